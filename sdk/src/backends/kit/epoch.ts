/**
 * Epochs: the room's membership between two joins or leaves. A broadcast
 * (`members` or `members-except-sender` audience) stores no recipient list,
 * only the number of its epoch; the epoch's member ids are stored once. That
 * keeps a broadcast's storage flat in the number of agents. Every backend
 * numbers epochs in its medium (`e` in the file journal, `epoch` in IndexedDB,
 * `ep:<n>` in Redis, the `audience` column and `mmb_audiences` table in SQLite:
 * those stored names stay as they are, they all mean an epoch).
 *
 * `EpochCache` is the one cache of epoch member lists and of the "everyone but
 * the sender" list each broadcast hands out, bounded by the number of ids it
 * holds and emptied oldest epoch first.
 */

/** Ids the cache holds by default: ~2,000 agents that all broadcast fit without rebuilding a list. */
const DEFAULT_MAX_IDS = 4 * 1024 * 1024;

/** One epoch's members, with the recipient lists its broadcasts share. Get one from `EpochCache.put` / `get`. */
export class Epoch {
  /** Every member of the epoch, sorted. */
  readonly all: readonly string[];
  readonly #owner: EpochCache;
  readonly #key: string;
  readonly #exceptSender = new Map<string, readonly string[]>();

  /** @internal Made by `EpochCache`. */
  constructor(owner: EpochCache, key: string, all: readonly string[]) {
    this.#owner = owner;
    this.#key = key;
    this.all = all;
  }

  /** The recipients of a broadcast in this epoch: everyone (`sender` null), or everyone but `sender`. Shared between messages. */
  recipients(sender: string | null): readonly string[] {
    if (sender === null) return this.all;
    let list = this.#exceptSender.get(sender);
    if (list === undefined) {
      list = Object.freeze(this.all.filter((id) => id !== sender));
      this.#exceptSender.set(sender, list);
      this.#owner.charge(this.#key, this, list.length);
    }
    return list;
  }

  /** @internal The cache dropped this epoch: forget the derived lists (the epoch itself stays usable). */
  forget(): void {
    this.#exceptSender.clear();
  }
}

/**
 * Epoch member lists by room and epoch number, bounded by the ids held. An
 * epoch never changes once written (a join or leave starts the next one), so
 * caching across transactions, tabs and processes is safe; an evicted epoch is
 * simply read (or rebuilt) again.
 */
export class EpochCache {
  readonly #maxIds: number;
  /** In insertion order: the first entry is the one evicted first. */
  readonly #entries = new Map<string, { epoch: Epoch; ids: number }>();
  #ids = 0;
  /** The last answer of `recipients`: consecutive broadcasts mostly share a room, an epoch and a sender. */
  #last: { room: string; epoch: number | string; sender: string | null; key: string; list: readonly string[] } | undefined;

  constructor(maxIds: number = DEFAULT_MAX_IDS) {
    this.#maxIds = maxIds;
  }

  /** The cached epoch, or `undefined`. */
  get(room: string, epoch: number | string): Epoch | undefined {
    return this.#entries.get(cacheKey(room, epoch))?.epoch;
  }

  /** Caches the member ids of an epoch (sorted here; a copy is kept) and returns it. */
  put(room: string, epoch: number | string, ids: Iterable<string>): Epoch {
    const key = cacheKey(room, epoch);
    const existing = this.#entries.get(key);
    if (existing) return existing.epoch;
    const all = Object.freeze([...ids].sort());
    const entry = new Epoch(this, key, all);
    this.#entries.set(key, { epoch: entry, ids: 0 });
    this.charge(key, entry, all.length);
    return entry;
  }

  /** Everyone of a cached epoch, or everyone but `sender`; `undefined` when the epoch is not cached. */
  recipients(room: string, epoch: number | string, sender: string | null): readonly string[] | undefined {
    const last = this.#last;
    // Before the keyed lookup, which builds its key string on every call.
    if (last && last.epoch === epoch && last.sender === sender && last.room === room) return last.list;
    const key = cacheKey(room, epoch);
    const list = this.#entries.get(key)?.epoch.recipients(sender);
    if (list) this.#last = { room, epoch, sender, key, list };
    return list;
  }

  /** Drops everything (a backend that reconnected to a store that may number epochs afresh). */
  clear(): void {
    for (const { epoch } of this.#entries.values()) epoch.forget();
    this.#entries.clear();
    this.#ids = 0;
    this.#last = undefined;
  }

  /** @internal Counts `ids` more for `epoch` and evicts the oldest epochs while over the bound. */
  charge(key: string, epoch: Epoch, ids: number): void {
    let entry = this.#entries.get(key);
    if (!entry || entry.epoch !== epoch) {
      // Evicted earlier while its holder kept using it: enter it again as the newest, its member list counted.
      if (entry) this.#evict(key, entry);
      entry = { epoch, ids: epoch.all.length };
      this.#entries.set(key, entry);
      this.#ids += entry.ids;
    }
    entry.ids += ids;
    this.#ids += ids;
    for (const [oldest, candidate] of this.#entries) {
      if (this.#ids <= this.#maxIds || candidate === entry) break;
      this.#evict(oldest, candidate);
    }
  }

  #evict(key: string, entry: { epoch: Epoch; ids: number }): void {
    if (this.#last?.key === key) this.#last = undefined;
    this.#entries.delete(key);
    this.#ids -= entry.ids;
    entry.epoch.forget();
  }
}

function cacheKey(room: string, epoch: number | string): string {
  return `${room}\u0000${epoch}`;
}
