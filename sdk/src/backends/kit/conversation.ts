/**
 * The conversation rules every backend keeps, written once: which messages a
 * member has seen (what `inReplyTo` may name and what `fetchThread` returns),
 * the thread a new message gets, the refusal of a reply, the window of
 * `fetchLatest`, and the in-process thread index the memory and file backends
 * share. The Redis fetch-thread script and the Durable Object's SQL mirror
 * `seenBy` and `replyThread`, and say so where they do.
 */
import { MessageBusError } from '../../core/errors.js';
import type { StoredMessage } from '../../core/types.js';
import { NumberList } from './number-list.js';
import type { BroadcastRef, OwnRun, WalkRequest } from './own-runs.js';

/** What the rules need to know of a member: its id and when its current membership began. */
export interface Viewer {
  readonly id: string;
  readonly joinedAfter: number;
}

/**
 * `true` when `viewer` has seen `message`: it sent it (in any membership), or
 * the message was routed to its current membership (`id > joinedAfter` and
 * among the recipients, which are sorted).
 */
export function seenBy(viewer: Viewer, message: Pick<StoredMessage, 'id' | 'sender' | 'recipients'>): boolean {
  if (message.sender === viewer.id) return true;
  return message.id > viewer.joinedAfter && includesSorted(message.recipients, viewer.id);
}

/**
 * The thread of a new message `id` that answers `inReplyTo` (or nothing):
 * its own id for a root, else the parent's thread. `parent` is the retained
 * message with id `inReplyTo`, or `undefined` when there is none (missing,
 * trimmed, not yet stored). Throws `replyRefused` unless `sender` has seen it.
 */
export function replyThread(
  backend: string,
  room: string,
  id: number,
  inReplyTo: number | undefined,
  parent: StoredMessage | undefined,
  sender: Viewer,
): number {
  if (inReplyTo === undefined) return id;
  if (parent === undefined || parent.id !== inReplyTo || !seenBy(sender, parent)) throw replyRefused(backend, room);
  return parent.thread;
}

/**
 * `INVALID_ARGUMENT` for a reply to a message the sender has not seen. One
 * text for every reason (missing, trimmed, hidden, too new), naming no id, so
 * a refusal tells a hidden message from a missing one by nothing.
 */
export function replyRefused(backend: string, room: string): MessageBusError {
  return new MessageBusError(
    'INVALID_ARGUMENT',
    `[${backend}] inReplyTo must name a message of room "${room}" that the sender sent or received; reply to one of those`,
  );
}

/**
 * Ids `fetchLatest` may return lie in `(floor, before)`: above the current
 * membership's start and below the retained history's oldest id minus one
 * (so it stops there instead of throwing `CURSOR_EXPIRED`).
 */
export function latestWindow(joinedAfter: number, oldestId: number, before: number | null): { floor: number; before: number } {
  return { floor: Math.max(joinedAfter, oldestId - 1), before: before ?? Number.POSITIVE_INFINITY };
}

/**
 * The newest broadcasts routed to `agent` in `(floor, before)`, newest first,
 * at most `limit`: walks back one broadcast at a time and jumps over each of
 * the agent's own runs with one lookup (the same runs `broadcastWalk` uses),
 * so the cost is O(k log n) whatever the runs' length. Runs through
 * `walkSync` / `walkAsync` like the other walks.
 */
export function* latestBroadcastWalk(
  agent: string,
  floor: number,
  before: number,
  limit: number,
): Generator<WalkRequest, number[], unknown> {
  const found: number[] = [];
  let pos = before;
  while (found.length < limit) {
    const ref = (yield { kind: 'before', agent, before: pos }) as BroadcastRef | undefined;
    if (ref === undefined || ref.id <= floor) break;
    if (ref.excluded !== agent) {
      found.push(ref.id);
      pos = ref.id;
      continue;
    }
    const run = (yield { kind: 'run-at', agent, id: ref.id }) as OwnRun | undefined;
    // A run must hold it; without one, step back by one broadcast rather than loop.
    pos = run && run.first <= ref.id ? run.first : ref.id;
  }
  return found;
}

/** The `limit` largest ids of two lists sorted newest first, returned ascending, without duplicates. */
export function newestAscending(a: readonly number[], b: readonly number[], limit: number): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (out.length < limit && (i < a.length || j < b.length)) {
    const x = i < a.length ? (a[i] as number) : Number.NEGATIVE_INFINITY;
    const y = j < b.length ? (b[j] as number) : Number.NEGATIVE_INFINITY;
    const id = Math.max(x, y);
    if (id === x) i++;
    if (id === y) j++;
    out.push(id);
  }
  return out.reverse();
}

/**
 * Per thread root, the ids of the replies in it (a root itself is not
 * listed: most messages are roots, and a root is its own thread), for
 * backends that index in process. `fetchThread` binary-searches the list and
 * checks `seenBy` on each message from there: O(log n + t) for t thread
 * messages read, never a scan of the room.
 */
export class ThreadIndex {
  readonly #replies = new Map<number, NumberList>();

  /** Records message `id` of thread `thread`; a root (`thread === id`) needs no entry. Ids arrive ascending. */
  add(thread: number, id: number): void {
    if (thread === id) return;
    let ids = this.#replies.get(thread);
    if (!ids) this.#replies.set(thread, (ids = new NumberList(4)));
    ids.push(id);
  }

  /**
   * Ids of the thread whose root is `thread`, above `after`, ascending, for
   * which `keep` holds, at most `limit`. `rootHeld` says whether the root
   * itself is a retained message (it is listed first then); a thread whose
   * root was trimmed still lists its retained replies. `[]` when `thread` is
   * a reply (it has no replies list, and is not a root).
   */
  ids(thread: number, after: number, limit: number, rootHeld: boolean, keep: (id: number) => boolean): number[] {
    const out: number[] = [];
    if (rootHeld && thread > after && keep(thread)) out.push(thread);
    const ids = this.#replies.get(thread);
    if (!ids) return out;
    for (let i = ids.firstAbove(after); i < ids.length && out.length < limit; i++) {
      const id = ids.get(i);
      if (keep(id)) out.push(id);
    }
    return out;
  }

  /** Forgets ids below `oldestId` (after retention compacted the room). */
  dropBelow(oldestId: number): void {
    for (const [thread, ids] of this.#replies) {
      const from = ids.firstAbove(oldestId - 1);
      if (from === ids.length) this.#replies.delete(thread);
      else if (from > 0) this.#replies.set(thread, ids.sliceFrom(from));
    }
  }
}

function includesSorted(sorted: readonly string[], id: string): boolean {
  let low = 0;
  let high = sorted.length - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const value = sorted[mid] as string;
    if (value === id) return true;
    if (value < id) low = mid + 1;
    else high = mid - 1;
  }
  return false;
}
