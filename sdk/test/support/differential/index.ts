export { type DifferentialOptions, type DifferentialResult, differential, firstDifference, type StoreUnderTest } from './harness.js';
export { POLICY_NAMES, type PolicyName } from './policies.js';
export { ScanningReference } from './reference.js';
export type { Sdk } from './sdk.js';

/** The seeded histories every backend runs: five without retention (each policy once), two with. */
export const SEEDS: ReadonlyArray<readonly [seed: number, maxMessages: number | undefined]> = [
  [1, undefined],
  [2, undefined],
  [3, undefined],
  [4, undefined],
  [5, undefined],
  [6, 25],
  [7, 40],
];
