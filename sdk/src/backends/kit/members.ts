/**
 * Members as every backend keeps them. Three names cover them all:
 * `MemberRecord` (what routing needs, `getMembers`), `MemberState` (with
 * cursor and counters, `getRoom`) and `StoredMember` (what a backend stores:
 * `MemberState` without `lastRoutedId`, which is derived from the delivery index).
 */
import type { MemberRecord, MemberState, MemberUpdate } from '../../core/types.js';

/** A member as backends keep it: `MemberState` without `lastRoutedId`. */
export type StoredMember = Omit<MemberState, 'lastRoutedId'>;

/** The frozen empty member list of an unknown room. */
export const NO_MEMBERS: readonly MemberRecord[] = Object.freeze([]);

/** Orders members (or anything with an `id`) the way `getMembers` and `getRoom` must return them. */
export function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** A member's routing facts, as a fresh record (callers may keep it). */
export function toRecord(member: StoredMember): MemberRecord {
  return { id: member.id, online: member.online, groups: [...member.groups], joinedAfter: member.joinedAfter };
}

/** A member's full state for `getRoom`, given its `lastRoutedId`. */
export function toState(member: StoredMember, lastRoutedId: number): MemberState {
  return {
    ...toRecord(member),
    cursor: member.cursor,
    lastRoutedId,
    sentCount: member.sentCount,
    lastSentAt: member.lastSentAt,
  };
}

/** A new membership from `putMember`: online state and groups as asked, counters at zero, joined after `lastId`. */
export function newMember(update: MemberUpdate, lastId: number): StoredMember {
  return {
    id: update.id,
    online: update.online,
    groups: update.groups ?? [],
    joinedAfter: lastId,
    cursor: 0,
    sentCount: 0,
    lastSentAt: null,
  };
}
