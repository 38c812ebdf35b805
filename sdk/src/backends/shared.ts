/**
 * Transitional: the names backends imported from here now live in the storage
 * kit (./kit/). Kept until every backend imports the kit directly.
 */
export { byId, cursorExpired, type StoredMember, unknownAgent } from './kit/index.js';

/**
 * The room's membership between two joins/leaves, kept once and shared by every
 * broadcast stored meanwhile. Superseded by the kit's `Epoch`.
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
