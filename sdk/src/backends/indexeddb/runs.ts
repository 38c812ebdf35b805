/// <reference lib="dom" />
/**
 * The storage kit's own-run algorithm over IndexedDB: the `runs` store
 * written by `RunWriter` inside an append transaction, and read by the kit's
 * walks through `broadcastSource` (every answer is one key-range request).
 */
import { unwrap } from 'idb';
import { type AsyncBroadcastSource, type BroadcastRef, extendsRun, type OwnRun } from '../kit/index.js';
import type { BroadcastRow, BusTransaction } from './schema.js';

/** The kit's `BroadcastSource` over the `broadcasts` and `runs` stores of `room`, in `tx`. */
export function broadcastSource(tx: BusTransaction, room: string): AsyncBroadcastSource {
  const broadcasts = tx.objectStore('broadcasts');
  const runs = tx.objectStore('runs');
  return {
    async ownRuns(agent, after, limit) {
      // The run holding `after` (if any) starts at or before it; the others start after it.
      const [holding, later] = await Promise.all([
        runs.openCursor(IDBKeyRange.bound([room, agent], [room, agent, after]), 'prev'),
        runs.getAll(IDBKeyRange.bound([room, agent, after], [room, agent, []], true, true), limit),
      ]);
      const out: OwnRun[] = holding && holding.value.last > after ? [holding.value, ...later] : later;
      return out.slice(0, limit);
    },
    async broadcasts(_agent, after, before, limit) {
      if (before <= after + 1) return [];
      const upper = before === Number.POSITIVE_INFINITY ? [room, []] : [room, before];
      const rows = await broadcasts.getAll(IDBKeyRange.bound([room, after], upper, true, true), limit);
      return rows.map(toRef);
    },
    async broadcastBefore(_agent, before) {
      const upper = before === Number.POSITIVE_INFINITY ? [room, []] : [room, before];
      const cursor = await broadcasts.openCursor(IDBKeyRange.bound([room], upper, false, true), 'prev');
      return cursor ? toRef(cursor.value) : undefined;
    },
    async ownRunAt(agent, id) {
      const cursor = await runs.openCursor(IDBKeyRange.bound([room, agent], [room, agent, id]), 'prev');
      return cursor?.value;
    },
  };
}

/**
 * Keeps the `runs` store up to date while an append transaction stores
 * broadcasts: the kit's `extendsRun` rule, with the room's last broadcast and
 * each sender's latest run read once per transaction.
 */
export class RunWriter {
  readonly #tx: BusTransaction<'readwrite'>;
  readonly #room: string;
  #lastBroadcast: number | undefined | null = null;
  readonly #latest = new Map<string, OwnRun | undefined>();

  constructor(tx: BusTransaction<'readwrite'>, room: string) {
    this.#tx = tx;
    this.#room = room;
  }

  /** Records broadcast `id` (`excluded`: the sender of a members-except-sender one, else `null`). */
  async broadcast(id: number, excluded: string | null): Promise<void> {
    if (this.#lastBroadcast === null) {
      const cursor = await this.#tx.objectStore('broadcasts').openKeyCursor(IDBKeyRange.bound([this.#room], [this.#room, []]), 'prev');
      this.#lastBroadcast = cursor ? cursor.key[1] : undefined;
    }
    if (excluded !== null) {
      if (!this.#latest.has(excluded)) {
        const cursor = await this.#tx
          .objectStore('runs')
          .openCursor(IDBKeyRange.bound([this.#room, excluded], [this.#room, excluded, []]), 'prev');
        this.#latest.set(excluded, cursor?.value);
      }
      const latest = this.#latest.get(excluded);
      const run =
        latest !== undefined && extendsRun(latest, this.#lastBroadcast) ? { first: latest.first, last: id } : { first: id, last: id };
      // Unwrapped: a failing write aborts the transaction, which the append sees through `done`.
      unwrap(this.#tx.objectStore('runs')).put(run, [this.#room, excluded, run.first]);
      this.#latest.set(excluded, run);
    }
    this.#lastBroadcast = id;
  }
}

/**
 * Drops the runs of `senders` that lie wholly below `oldestId` (retention removed their broadcasts); a run
 * that reaches `oldestId` stays.
 */
export async function trimRuns(
  tx: BusTransaction<'readwrite'>,
  raw: IDBObjectStore,
  room: string,
  senders: Iterable<string>,
  oldestId: number,
): Promise<void> {
  const runs = tx.objectStore('runs');
  for (const sender of senders) {
    const below = IDBKeyRange.bound([room, sender], [room, sender, oldestId], false, true);
    const last = await runs.openCursor(below, 'prev');
    if (!last) continue;
    const keepFrom = last.value.last >= oldestId ? last.value.first : oldestId;
    raw.delete(IDBKeyRange.bound([room, sender], [room, sender, keepFrom], false, true));
  }
}

function toRef(row: BroadcastRow): BroadcastRef {
  return { id: row.id, excluded: row.except };
}
