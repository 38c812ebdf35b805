/// <reference lib="dom" />
/**
 * The write path of `IndexedDBStorageBackend`: a batch of drafts for one room
 * appended in one readwrite transaction. Id assignment, the idempotency check,
 * the message, the delivery index and retention all happen in that
 * transaction, so another tab's append waits for it and sees its result, and
 * an abort (quota, crash) leaves nothing of the batch behind.
 */
import { unwrap } from 'idb';
import type { MessageBusError } from '../../core/errors.js';
import type { AppendResult, MessageDraft, StoredMessage } from '../../core/types.js';
import { type EpochCache, idempotencyField, type StoredMember, unknownAgent } from '../kit/index.js';
import { loadEpochs, roomRange, toStoredMessage } from './rows.js';
import { RunWriter, trimRuns } from './runs.js';
import { type BusTransaction, type MessageRow, NAME, type RoomRow, type StoreName } from './schema.js';

/** Stores the append transaction covers. */
export const APPEND_STORES: StoreName[] = ['rooms', 'members', 'messages', 'deliveries', 'broadcasts', 'audiences', 'idempotency', 'runs'];

/** Per draft, in order: its result, or the typed error that rejected it alone (nothing of it was written). */
export interface BatchOutcome {
  results: Array<AppendResult | MessageBusError>;
  /** Newly stored messages, ascending. */
  stored: StoredMessage[];
}

/**
 * Appends `drafts` to `room` inside `tx`. Only IndexedDB requests are awaited
 * here (anything else would let the transaction commit early). Writes go
 * through the raw stores: their requests need no promise, and a failing one
 * aborts the transaction, which the caller sees through `tx.done`.
 */
export async function appendBatch(
  tx: BusTransaction<'readwrite'>,
  room: string,
  drafts: readonly MessageDraft[],
  maxMessages: number | undefined,
  epochs: EpochCache,
): Promise<BatchOutcome> {
  const members = tx.objectStore('members');
  const raw = {
    rooms: unwrap(tx.objectStore('rooms')),
    members: unwrap(members),
    messages: unwrap(tx.objectStore('messages')),
    deliveries: unwrap(tx.objectStore('deliveries')),
    broadcasts: unwrap(tx.objectStore('broadcasts')),
    audiences: unwrap(tx.objectStore('audiences')),
    idempotency: unwrap(tx.objectStore('idempotency')),
    runs: unwrap(tx.objectStore('runs')),
  };
  const runs = new RunWriter(tx, room);
  // Member rows read in this transaction: `undefined` = not a member.
  const rows = new Map<string, StoredMember | undefined>();
  const load = async (ids: Iterable<string>) => {
    const missing = [...new Set(ids)].filter((id) => !rows.has(id));
    const found = await Promise.all(missing.map((id) => members.get([room, id])));
    missing.forEach((id, i) => void rows.set(id, found[i]));
  };
  // The room row and the senders in one round trip.
  const [roomRow] = await Promise.all([tx.objectStore('rooms').get(room), load(drafts.map((d) => d.sender))]);
  const outcome: BatchOutcome = { results: [], stored: [] };
  if (!roomRow) {
    for (const draft of drafts) outcome.results.push(unknownAgent(NAME, draft.sender, room));
    return outcome;
  }
  const senders = new Set<StoredMember>();
  const keysInBatch = new Map<string, StoredMessage>();

  for (const draft of drafts) {
    const sender = rows.get(draft.sender);
    if (!sender) {
      outcome.results.push(unknownAgent(NAME, draft.sender, room));
      continue;
    }
    const key = draft.idempotencyKey;
    if (key !== undefined) {
      const earlier = keysInBatch.get(idempotencyField(draft.sender, key)) ?? (await findEarlier(tx, room, draft.sender, key, epochs));
      if (earlier) {
        outcome.results.push({ message: earlier, duplicate: true });
        continue;
      }
    }
    const id = roomRow.lastId + 1;
    const row: MessageRow = {
      id,
      timestamp: draft.timestamp,
      sender: draft.sender,
      contentJson: draft.contentJson,
      routing: { policy: draft.routing.policy, requested: draft.routing.requested && [...draft.routing.requested] },
      audience: draft.audience,
    };
    if (key !== undefined) row.idempotencyKey = key;
    if (draft.audience === 'list') {
      await load(draft.recipients);
      // The backend's membership at append time wins over the bus's view.
      row.recipients = draft.recipients.filter((r) => rows.get(r) !== undefined);
      for (const recipient of row.recipients) raw.deliveries.put(id, [room, recipient, id]);
    } else {
      await ensureEpoch(tx, raw.audiences, room, roomRow, epochs);
      row.epoch = roomRow.epoch;
      const except = draft.audience === 'members' ? null : draft.sender;
      await runs.broadcast(id, except);
      raw.broadcasts.put({ id, epoch: roomRow.epoch, except }, [room, id]);
    }
    raw.messages.put(row, [room, id]);
    if (key !== undefined) raw.idempotency.put(id, [room, draft.sender, key]);
    sender.sentCount++;
    sender.lastSentAt = draft.timestamp;
    senders.add(sender);
    roomRow.lastId = id;
    const message = toStoredMessage(room, row, epochs);
    if (key !== undefined) keysInBatch.set(idempotencyField(draft.sender, key), message);
    outcome.results.push({ message, duplicate: false });
    outcome.stored.push(message);
  }

  if (outcome.stored.length === 0) return outcome;
  for (const sender of senders) raw.members.put(sender, [room, sender.id]);
  if (maxMessages !== undefined) await trim(tx, raw, room, roomRow, maxMessages);
  raw.rooms.put(roomRow, room);
  return outcome;
}

// --- internal helpers ---

type RawStores = Record<StoreName, IDBObjectStore>;

/** The message an earlier send with this idempotency key stored, if it is still retained. */
async function findEarlier(
  tx: BusTransaction<'readwrite'>,
  room: string,
  sender: string,
  key: string,
  epochs: EpochCache,
): Promise<StoredMessage | undefined> {
  const id = await tx.objectStore('idempotency').get([room, sender, key]);
  if (id === undefined) return undefined;
  const row = await tx.objectStore('messages').get([room, id]);
  if (!row) return undefined;
  if (row.epoch !== undefined) await loadEpochs(tx, epochs, room, [row.epoch]);
  return toStoredMessage(room, row, epochs);
}

/** Makes sure the current epoch's member list is stored (once per epoch, on its first broadcast) and cached. */
async function ensureEpoch(
  tx: BusTransaction<'readwrite'>,
  rawAudiences: IDBObjectStore,
  room: string,
  roomRow: RoomRow,
  epochs: EpochCache,
): Promise<void> {
  if (roomRow.audienceEpoch === roomRow.epoch) {
    await loadEpochs(tx, epochs, room, [roomRow.epoch]);
    return;
  }
  const keys = await tx.objectStore('members').getAllKeys(roomRange(room));
  // Keys come sorted by agent id (IndexedDB compares strings by code unit, as Array.prototype.sort does).
  const ids = keys.map((k) => k[1]);
  rawAudiences.put(ids, [room, roomRow.epoch]);
  roomRow.audienceEpoch = roomRow.epoch;
  epochs.put(room, roomRow.epoch, ids);
}

/** Drops the oldest messages beyond `max` with their index entries, idempotency keys, own runs and unreferenced epochs. */
async function trim(tx: BusTransaction<'readwrite'>, raw: RawStores, room: string, roomRow: RoomRow, max: number): Promise<void> {
  const excess = roomRow.lastId - roomRow.oldestId + 1 - max;
  if (excess <= 0) return;
  const last = roomRow.oldestId + excess - 1;
  const range = IDBKeyRange.bound([room, roomRow.oldestId], [room, last]);
  const gone = await tx.objectStore('messages').getAll(range);
  let lastEpoch: number | undefined;
  const runSenders = new Set<string>();
  for (const row of gone) {
    for (const recipient of row.recipients ?? []) raw.deliveries.delete([room, recipient, row.id]);
    if (row.idempotencyKey !== undefined) raw.idempotency.delete([room, row.sender, row.idempotencyKey]);
    if (row.epoch !== undefined) lastEpoch = row.epoch;
    if (row.audience === 'members-except-sender') runSenders.add(row.sender);
  }
  raw.messages.delete(range);
  raw.broadcasts.delete(range);
  await trimRuns(tx, raw.runs, room, runSenders, last + 1);
  // Epochs only grow with ids, so every retained broadcast uses lastEpoch or a later one.
  if (lastEpoch !== undefined) raw.audiences.delete(IDBKeyRange.bound([room, Number.NEGATIVE_INFINITY], [room, lastEpoch], false, true));
  roomRow.oldestId = last + 1;
}
