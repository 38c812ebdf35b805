/**
 * Pieces every storage backend needs in the same words: the two errors a
 * backend raises itself, member ordering, and the shared broadcast audience.
 * Runtime-agnostic, like the core.
 */
import { MessageBusError } from '../core/errors.js';
import type { MemberState } from '../core/types.js';

/** `UNKNOWN_AGENT` as a backend reports it, prefixed with the backend's name. */
export function unknownAgent(backend: string, agentId: string, room: string): MessageBusError {
  return new MessageBusError('UNKNOWN_AGENT', `[${backend}] agent "${agentId}" is not a member of room "${room}"`);
}

/** `CURSOR_EXPIRED`, carrying the oldest id still available so the caller can resume from it. */
export function cursorExpired(backend: string, room: string, from: number, oldestId: number): MessageBusError {
  return new MessageBusError(
    'CURSOR_EXPIRED',
    `[${backend}] messages after ${from} in room "${room}" were trimmed by retention; the oldest still available is ${oldestId}: fetch from ${oldestId - 1} to continue`,
    { details: { oldestId } },
  );
}

/** A member as backends keep it: `MemberState` without `lastRoutedId`, which is derived from the delivery index. */
export type StoredMember = Omit<MemberState, 'lastRoutedId'>;

/** Orders members (or anything with an `id`) the way `getMembers` and `getRoom` must return them. */
export function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * The room's membership between two joins/leaves, kept once and shared by every
 * broadcast stored meanwhile: this is what keeps a broadcast's storage flat in
 * the number of agents.
 */
export class Audience {
  readonly members: ReadonlySet<string>;
  /** Every member, sorted. */
  readonly all: readonly string[];
  readonly #exceptSender = new Map<string, readonly string[]>();

  constructor(ids: Iterable<string>) {
    this.all = Object.freeze([...ids].sort());
    this.members = new Set(this.all);
  }

  /** The recipient list, shared between messages: everyone (`sender` null), or everyone but `sender`. */
  recipients(sender: string | null): readonly string[] {
    if (sender === null) return this.all;
    let list = this.#exceptSender.get(sender);
    if (!list) this.#exceptSender.set(sender, (list = Object.freeze(this.all.filter((id) => id !== sender))));
    return list;
  }
}
