import type { ErrorBody, GroupGrant } from './contract.js';
import { fail } from './errors.js';

/**
 * Groups decide who reads what, so choosing them is an access right. An
 * agent token's optional `groups` claim lists the groups its agent may join
 * or leave (or `["*"]` for any); without the claim the agent may not change
 * its groups at all; admins may set any. `GroupGrant` is that right, and the
 * one rule is: every group a request adds or drops must be granted.
 */

/** Refusal (or `undefined`) for changing a member's groups from `before` to `after` under `grant`. */
export function refuseGroupChange(grant: GroupGrant, before: readonly string[], after: readonly string[]): ErrorBody | undefined {
  if (grant === '*') return undefined;
  const changed = [...after.filter((g) => !before.includes(g)), ...before.filter((g) => !after.includes(g))];
  if (changed.length === 0) return undefined;
  if (grant === null) {
    return fail(
      'FORBIDDEN',
      'this agent token has no groups claim, so the agent may not choose its groups: an admin sets them, or mint the token with the groups it may join (`npm run token -- --agent <id> --room <room> --groups a,b`)',
    );
  }
  const outside = changed.find((g) => !grant.includes(g));
  if (outside === undefined) return undefined;
  return fail(
    'FORBIDDEN',
    `this agent token may join or leave only the groups of its groups claim (${grant.map((g) => `"${g}"`).join(', ')}), not "${outside}"`,
    { group: outside },
  );
}

/** Refusal (or `undefined`) for a member in more distinct groups than MAX_GROUPS_PER_MEMBER. */
export function refuseGroupCount(groups: readonly string[], limit: number): ErrorBody | undefined {
  const count = new Set(groups).size;
  if (count <= limit) return undefined;
  return fail('INVALID_ARGUMENT', `a member may be in at most ${limit} groups (MAX_GROUPS_PER_MEMBER); this would make ${count}`, {
    limit,
  });
}
