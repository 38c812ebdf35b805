/**
 * The window of a fetch: which ids `fetch(room, agent, after, limit)` may
 * return, and when it must fail with `CURSOR_EXPIRED` instead of silently
 * skipping trimmed history.
 */
import { cursorExpired } from './errors.js';

/** What the window rule needs to know of the fetching member. */
export interface WindowMember {
  /** The acknowledged cursor: where a fetch with `after: null` starts. */
  cursor: number;
  /** The room's last id when this membership began: nothing at or before it was routed to this membership. */
  joinedAfter: number;
}

/**
 * The id the fetch starts after. A membership sees only ids after it began (a
 * re-joined agent does not get its old membership's mail), and nothing below
 * `oldestId` is retained. Ids in `(from, oldestId)` are gone: if this
 * membership could have received any of them, that is `CURSOR_EXPIRED` (with
 * `oldestId` in `details`), never a silent skip.
 */
export function fetchStart(backend: string, room: string, after: number | null, member: WindowMember, oldestId: number): number {
  const from = after ?? member.cursor;
  if (Math.max(from, member.joinedAfter) + 1 < oldestId) throw cursorExpired(backend, room, from, oldestId);
  return Math.max(from, oldestId - 1, member.joinedAfter);
}

/** `lastRoutedId` as `getRoom` reports it: the highest id routed to the member that is still retained, else 0. */
export function retainedOrZero(id: number, oldestId: number): number {
  return id >= oldestId ? id : 0;
}
