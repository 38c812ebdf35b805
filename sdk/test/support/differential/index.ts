export { type DifferentialOptions, type DifferentialResult, differential, firstDifference, type StoreUnderTest } from './harness.js';
export { POLICY_NAMES, type PolicyName } from './policies.js';
export { ScanningReference } from './reference.js';
export type { Sdk } from './sdk.js';
