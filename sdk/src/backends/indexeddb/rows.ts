/// <reference lib="dom" />
/** Turning stored rows back into `StoredMessage`s, the epoch member lists broadcasts point to, and key ranges. */
import { MessageBusError } from '../../core/errors.js';
import type { StoredMessage } from '../../core/types.js';
import { type EpochCache, parseContent, storedMessage } from '../kit/index.js';
import { type BusTransaction, type MessageRow, NAME } from './schema.js';

/** Epochs the rows point to (broadcasts only). */
export function epochsOf(rows: readonly MessageRow[]): number[] {
  const epochs: number[] = [];
  for (const row of rows) if (row.epoch !== undefined) epochs.push(row.epoch);
  return epochs;
}

/**
 * Reads the member lists of `epochs` that `cache` lacks from the `audiences` store, in `tx`. An epoch never
 * changes once written (any join or leave starts a new one), so the cache may keep them across transactions and tabs.
 */
export async function loadEpochs(tx: BusTransaction, cache: EpochCache, room: string, epochs: Iterable<number>): Promise<void> {
  const missing = [...new Set(epochs)].filter((epoch) => !cache.get(room, epoch));
  if (missing.length === 0) return;
  const store = tx.objectStore('audiences');
  const lists = await Promise.all(missing.map((epoch) => store.get([room, epoch])));
  missing.forEach((epoch, i) => {
    const ids = lists[i];
    if (!ids) throw missingEpoch(room, epoch);
    cache.put(room, epoch, ids);
  });
}

/** A stored row as the message the bus hands out: frozen, its audience expanded (call `loadEpochs` first). */
export function toStoredMessage(room: string, row: MessageRow, cache: EpochCache): StoredMessage {
  let recipients: readonly string[];
  if (row.audience === 'list') recipients = Object.freeze(row.recipients ?? []);
  else {
    const list = cache.recipients(room, row.epoch as number, row.audience === 'members' ? null : row.sender);
    if (!list) throw missingEpoch(room, row.epoch as number);
    recipients = list;
  }
  return storedMessage(room, {
    id: row.id,
    timestamp: row.timestamp,
    sender: row.sender,
    content: parseContent(row.contentJson),
    recipients,
    policy: row.routing.policy,
    requested: row.routing.requested,
    idempotencyKey: row.idempotencyKey,
  });
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

function missingEpoch(room: string, epoch: number): MessageBusError {
  return new MessageBusError('STORAGE_FAILURE', `[${NAME}] the audience of epoch ${epoch} in room "${room}" is missing`);
}
