/// <reference lib="dom" />
/** Turning stored rows back into `StoredMessage`s, and the cache of membership epochs that broadcasts point to. */
import { MessageBusError } from '../core/errors.js';
import type { JsonValue, StoredMessage } from '../core/types.js';
import { deepFreeze } from '../core/validate.js';
import { type BusTransaction, type MessageRow, NAME } from './indexeddb-schema.js';
import { unknownAgent as sharedUnknownAgent } from './shared.js';

const MAX_CACHED_AUDIENCES = 512;

/**
 * Audiences of membership epochs, by room. An epoch's member list never
 * changes once written (any join or leave starts a new epoch), so caching it
 * across transactions and tabs is safe. Recipient arrays are shared between
 * messages, as the memory backend does.
 */
export class AudienceCache {
  readonly #all = new Map<string, readonly string[]>();
  readonly #exceptSender = new Map<string, readonly string[]>();

  has(room: string, epoch: number): boolean {
    return this.#all.has(key(room, epoch));
  }

  set(room: string, epoch: number, ids: readonly string[]): void {
    if (this.#all.size >= MAX_CACHED_AUDIENCES) {
      this.#all.clear();
      this.#exceptSender.clear();
    }
    this.#all.set(key(room, epoch), Object.freeze([...ids]));
  }

  /** Everyone of the epoch (`sender` null), or everyone but `sender`. */
  recipients(room: string, epoch: number, sender: string | null): readonly string[] {
    const all = this.#all.get(key(room, epoch));
    if (!all) throw new MessageBusError('STORAGE_FAILURE', `[${NAME}] the audience of epoch ${epoch} in room "${room}" is missing`);
    if (sender === null) return all;
    const k = `${key(room, epoch)}\u0000${sender}`;
    let list = this.#exceptSender.get(k);
    if (!list) this.#exceptSender.set(k, (list = Object.freeze(all.filter((id) => id !== sender))));
    return list;
  }

  /** Loads the audiences of `epochs` that are not cached yet, in `tx`. */
  async load(tx: BusTransaction, room: string, epochs: Iterable<number>): Promise<void> {
    const missing = [...new Set(epochs)].filter((epoch) => !this.has(room, epoch));
    if (missing.length === 0) return;
    const store = tx.objectStore('audiences');
    const lists = await Promise.all(missing.map((epoch) => store.get([room, epoch])));
    missing.forEach((epoch, i) => {
      const ids = lists[i];
      if (!ids) throw new MessageBusError('STORAGE_FAILURE', `[${NAME}] the audience of epoch ${epoch} in room "${room}" is missing`);
      this.set(room, epoch, ids);
    });
  }
}

/** Epochs the rows point to (broadcasts only). */
export function epochsOf(rows: readonly MessageRow[]): number[] {
  const epochs: number[] = [];
  for (const row of rows) if (row.epoch !== undefined) epochs.push(row.epoch);
  return epochs;
}

/** A stored row as the message the bus hands out: frozen, its audience expanded (call `AudienceCache.load` first). */
export function toStoredMessage(room: string, row: MessageRow, audiences: AudienceCache): StoredMessage {
  const recipients =
    row.audience === 'list'
      ? Object.freeze(row.recipients ?? [])
      : audiences.recipients(room, row.epoch as number, row.audience === 'members' ? null : row.sender);
  const requested = row.routing.requested;
  return Object.freeze({
    id: row.id,
    room,
    timestamp: row.timestamp,
    sender: row.sender,
    content: deepFreeze(JSON.parse(row.contentJson) as JsonValue),
    recipients,
    routing: Object.freeze({ policy: row.routing.policy, requested: requested && Object.freeze([...requested]) }),
    ...(row.idempotencyKey === undefined ? {} : { idempotencyKey: row.idempotencyKey }),
  }) as unknown as StoredMessage;
}

/** The key range of every row of `room` in a store keyed [room, ...]. */
export function roomRange(room: string): IDBKeyRange {
  // Arrays sort after every number and string, so [room, []] is above every [room, x, ...] key.
  return IDBKeyRange.bound([room], [room, []]);
}

/** Keys [room, id] (or [room, agent, id] with `agent`) with `id > after`. */
export function idsAbove(room: string, after: number, agent?: string): IDBKeyRange {
  return agent === undefined
    ? IDBKeyRange.bound([room, after], [room, []], true, true)
    : IDBKeyRange.bound([room, agent, after], [room, agent, []], true, true);
}

export function unknownAgent(agentId: string, room: string): MessageBusError {
  return sharedUnknownAgent(NAME, agentId, room);
}

// --- internal helpers ---

function key(room: string, epoch: number): string {
  return `${room}\u0000${epoch}`;
}
