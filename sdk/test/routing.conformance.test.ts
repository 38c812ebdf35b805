import { describe, it } from 'vitest';
import {
  AddressedRoutingPolicy,
  BroadcastRoutingPolicy,
  IndividualRoutingPolicy,
  SubgroupRoutingPolicy,
} from '../src/routing-policies/index.js';
import { addressedCases, broadcastCases, individualCases, routingPolicySuite, subgroupCases } from '../src/testing/index.js';

const test = { describe, it };
routingPolicySuite('BroadcastRoutingPolicy', { create: () => new BroadcastRoutingPolicy(), cases: broadcastCases, test });
routingPolicySuite('BroadcastRoutingPolicy({ includeSender: true })', {
  create: () => new BroadcastRoutingPolicy({ includeSender: true }),
  cases: [{ name: 'broadcast with the sender', members: [{ id: 'a' }, { id: 'b' }], send: { sender: 'a' }, expect: ['a', 'b'] }],
  test,
});
routingPolicySuite('SubgroupRoutingPolicy', { create: () => new SubgroupRoutingPolicy(), cases: subgroupCases, test });
routingPolicySuite('IndividualRoutingPolicy', { create: () => new IndividualRoutingPolicy(), cases: individualCases, test });
routingPolicySuite('AddressedRoutingPolicy', { create: () => new AddressedRoutingPolicy(), cases: addressedCases, test });
