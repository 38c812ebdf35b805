/** Conformance suites for custom storage backends and routing policies, runnable in any test runner. */

export { ConformanceError, type TestApi } from './harness.js';
export { contentMismatch, ODD_CONTENT_CASES, type OddContentCase, oddContent } from './odd-content.js';
export {
  addressedCases,
  broadcastCases,
  individualCases,
  type RoutingCase,
  type RoutingSuiteOptions,
  routingPolicySuite,
  subgroupCases,
} from './routing-suite.js';
export { type StorageSuiteOptions, storageBackendSuite } from './storage-suite.js';
