/** The routing policies a differential run uses: the three built-in ones and a custom one that mixes audience kinds. */
import type { RoutingPolicy } from '../../../src/core/types.js';
import type { Sdk } from './sdk.js';

export type PolicyName = 'broadcast' | 'broadcast-all' | 'subgroup' | 'individual' | 'mixed';
export const POLICY_NAMES: readonly PolicyName[] = ['broadcast', 'broadcast-all', 'subgroup', 'individual', 'mixed'];

/**
 * Custom: the content says how to route. `all` → every member (stored once),
 * `others` → everyone but the sender (stored once), `list` → `content.to` as
 * given (unsorted, repeated, maybe a non-member: ROUTING_FAILED), `bogus` → a
 * result that is no list, `throw` → a policy bug. Both ROUTING_FAILED.
 */
export const mixedPolicy: RoutingPolicy = {
  name: 'mixed',
  route(message) {
    const content = message.content as { route?: string; to?: string[] };
    switch (content?.route) {
      case 'all':
        return { audience: 'members' };
      case 'others':
        return { audience: 'members-except-sender' };
      case 'list':
        return content.to ?? [];
      case 'bogus':
        return 42 as never;
      default:
        throw new Error('mixed policy: no route');
    }
  },
};

export function policyOf(name: PolicyName, sdk: Sdk): RoutingPolicy {
  switch (name) {
    case 'broadcast':
      return new sdk.BroadcastRoutingPolicy();
    case 'broadcast-all':
      return new sdk.BroadcastRoutingPolicy({ includeSender: true });
    case 'subgroup':
      return new sdk.SubgroupRoutingPolicy();
    case 'individual':
      return new sdk.IndividualRoutingPolicy();
    case 'mixed':
      return mixedPolicy;
  }
}
