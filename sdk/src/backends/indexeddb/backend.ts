/// <reference lib="dom" />
import { unwrap } from 'idb';
import { MessageBusError } from '../../core/errors.js';
import type {
  AppendResult,
  MemberRecord,
  MemberUpdate,
  MessageDraft,
  RoomSnapshot,
  StorageBackend,
  StoredMessage,
} from '../../core/types.js';
import {
  broadcastWalk,
  checkMaxMessages,
  closedError,
  EpochCache,
  fetchStart,
  lastBroadcastWalk,
  mergeAscending,
  NO_MEMBERS,
  newMember,
  retainedOrZero,
  type StoredMember,
  toRecord,
  toState,
  unknownAgent,
  walkAsync,
} from '../kit/index.js';
import { APPEND_STORES, appendBatch } from './append.js';
import { epochsOf, idsAbove, loadEpochs, roomRange, toStoredMessage } from './rows.js';
import { broadcastSource } from './runs.js';
import {
  type BusDatabase,
  type BusTransaction,
  failure,
  type MessageRow,
  NAME,
  openBusDatabase,
  type RoomRow,
  type StoreName,
} from './schema.js';

/** Options of `IndexedDBStorageBackend`. */
export interface IndexedDBStorageOptions {
  /** The IndexedDB database to use; every tab of the origin that opens the same name shares its rooms. Default `'modular-message-bus'`. */
  dbName?: string;
  /** Keep at most this many messages per room, trimming the oldest. Default: keep all. */
  maxMessages?: number;
  /** The IndexedDB factory. Default `globalThis.indexedDB`; pass one (e.g. from `fake-indexeddb`) outside a browser. */
  indexedDB?: IDBFactory;
}

/** Most drafts one append transaction takes; the rest wait for the next one. */
const MAX_BATCH = 1000;
const DEFAULT_DB_NAME = 'modular-message-bus';

/**
 * Keeps rooms in the browser's IndexedDB (through `idb`): history, members,
 * groups, cursors and idempotency keys survive a reload and a browser restart,
 * and several tabs of one origin may run a `MessageBus` on the same room.
 *
 * Each append is one readwrite transaction that assigns the id, checks the
 * idempotency key and writes the message and its delivery index, so ids stay
 * unique, ordered and gap-free across tabs. Appends that arrive while one is in
 * flight are grouped into the next transaction. A broadcast is stored once,
 * pointing at its membership epoch's audience; direct messages are indexed per
 * recipient; fetch reads both indexes by key range. Live delivery across tabs
 * goes through a `BroadcastChannel` named after the database.
 *
 * @example
 * ```ts
 * const storage = new IndexedDBStorageBackend({ dbName: 'my-app', maxMessages: 50_000 });
 * const bus = new MessageBus(storage, new BroadcastRoutingPolicy(), { room: 'lobby' });
 * bus.subscribe('me', (m) => render(m)); // also sees messages sent from other tabs
 * ```
 */
export class IndexedDBStorageBackend implements StorageBackend {
  readonly name = NAME;
  readonly #dbName: string;
  readonly #factory: IDBFactory;
  readonly #maxMessages: number | undefined;
  readonly #epochs = new EpochCache();
  readonly #watchers = new Map<string, Set<(message: StoredMessage) => void>>();
  readonly #queues = new Map<string, PendingAppend[]>();
  /** Member arrays by room with the room's `memberVersion` they reflect: `getMembers` returns the same array while it is unchanged. */
  readonly #members = new Map<string, { version: number; records: readonly MemberRecord[] }>();
  readonly #membersReading = new Map<string, { generation: number; promise: Promise<readonly MemberRecord[]> }>();
  /** Bumped by this instance's own membership writes, so no read started before one is shared after it. */
  #generation = 0;
  #opening: Promise<BusDatabase> | undefined;
  #lost: MessageBusError | undefined;
  #channel: BroadcastChannel | undefined;
  #closed = false;

  constructor(options: IndexedDBStorageOptions = {}) {
    const { dbName = DEFAULT_DB_NAME, maxMessages } = options;
    if (typeof dbName !== 'string' || dbName.length === 0) {
      throw new MessageBusError('INVALID_ARGUMENT', `[${NAME}] dbName must be a non-empty string; got ${String(dbName)}`);
    }
    checkMaxMessages(NAME, maxMessages);
    const factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
    if (!factory) {
      throw new MessageBusError(
        'MISCONFIGURED',
        `[${NAME}] IndexedDBStorageBackend needs a browser: globalThis.indexedDB is missing in this runtime. In Node.js use FileStorageBackend or RedisStorageBackend, or pass a factory: new IndexedDBStorageBackend({ indexedDB }) (e.g. fake-indexeddb in tests).`,
      );
    }
    if (typeof IDBKeyRange === 'undefined' || typeof IDBRequest === 'undefined') {
      // idb recognises requests and transactions through these globals.
      throw new MessageBusError(
        'MISCONFIGURED',
        `[${NAME}] IndexedDBStorageBackend needs the IndexedDB globals (IDBKeyRange, IDBRequest, ...) besides the factory; outside a browser import "fake-indexeddb/auto" first.`,
      );
    }
    this.#dbName = dbName;
    this.#factory = factory;
    this.#maxMessages = maxMessages;
  }

  async getMembers(room: string): Promise<readonly MemberRecord[]> {
    this.#assertOpen();
    const reading = this.#membersReading.get(room);
    // Concurrent sends share one read; a read begun before this instance changed membership is not shared.
    if (reading && reading.generation === this.#generation) return reading.promise;
    const promise = this.#run('getMembers', ['rooms', 'members'], 'readonly', async (tx) => {
      const roomRow = await tx.objectStore('rooms').get(room);
      if (!roomRow) return NO_MEMBERS;
      const cached = this.#members.get(room);
      if (cached && cached.version === roomRow.memberVersion) return cached.records;
      const rows = await tx.objectStore('members').getAll(roomRange(room));
      const records = Object.freeze(rows.map(toRecord));
      this.#members.set(room, { version: roomRow.memberVersion, records });
      return records;
    });
    const entry = { generation: this.#generation, promise };
    this.#membersReading.set(room, entry);
    const forget = () => {
      if (this.#membersReading.get(room) === entry) this.#membersReading.delete(room);
    };
    promise.then(forget, forget);
    return promise;
  }

  async getRoom(room: string): Promise<RoomSnapshot> {
    this.#assertOpen();
    return this.#run('getRoom', ['rooms', 'members', 'deliveries', 'broadcasts', 'runs'], 'readonly', async (tx) => {
      const [roomRow, rows] = await Promise.all([tx.objectStore('rooms').get(room), tx.objectStore('members').getAll(roomRange(room))]);
      if (!roomRow) return { room, lastId: 0, oldestId: 1, members: [] };
      const members = await Promise.all(rows.map(async (row) => toState(row, await lastRoutedId(tx, room, roomRow, row))));
      return { room, lastId: roomRow.lastId, oldestId: roomRow.oldestId, members };
    });
  }

  async listRooms(): Promise<string[]> {
    this.#assertOpen();
    return this.#run('listRooms', ['rooms'], 'readonly', (tx) => tx.objectStore('rooms').getAllKeys());
  }

  async putMember(room: string, update: MemberUpdate): Promise<MemberRecord> {
    this.#assertOpen();
    this.#generation++;
    return this.#run('putMember', ['rooms', 'members'], 'readwrite', async (tx) => {
      const rooms = tx.objectStore('rooms');
      const members = tx.objectStore('members');
      const [found, existing] = await Promise.all([rooms.get(room), members.get([room, update.id])]);
      const roomRow: RoomRow = found ?? { lastId: 0, oldestId: 1, epoch: 0, audienceEpoch: -1, memberVersion: 0 };
      let row: StoredMember;
      if (existing) {
        row = { ...existing, online: update.online, groups: update.groups ?? existing.groups };
      } else {
        row = newMember(update, roomRow.lastId);
        roomRow.epoch++;
      }
      roomRow.memberVersion++;
      unwrap(members).put(row, [room, update.id]);
      unwrap(rooms).put(roomRow, room);
      return toRecord(row);
    });
  }

  async removeMember(room: string, agentId: string): Promise<boolean> {
    this.#assertOpen();
    this.#generation++;
    return this.#run('removeMember', ['rooms', 'members', 'deliveries'], 'readwrite', async (tx) => {
      const rooms = tx.objectStore('rooms');
      const [roomRow, existing] = await Promise.all([rooms.get(room), tx.objectStore('members').getKey([room, agentId])]);
      if (!roomRow || existing === undefined) return false;
      roomRow.epoch++;
      roomRow.memberVersion++;
      unwrap(tx.objectStore('members')).delete([room, agentId]);
      // Its direct mail goes with the membership; a later join starts afresh (joinedAfter).
      unwrap(tx.objectStore('deliveries')).delete(IDBKeyRange.bound([room, agentId], [room, agentId, []]));
      unwrap(rooms).put(roomRow, room);
      return true;
    });
  }

  async append(room: string, draft: MessageDraft): Promise<AppendResult> {
    this.#assertOpen();
    return new Promise<AppendResult>((resolve, reject) => {
      let queue = this.#queues.get(room);
      if (!queue) {
        this.#queues.set(room, (queue = []));
        // Start after the current microtasks: concurrent sends that route together land in one transaction.
        queueMicrotask(() => void this.#flush(room, queue as PendingAppend[]));
      }
      queue.push({ draft, resolve, reject });
    });
  }

  async fetch(room: string, agentId: string, after: number | null, limit: number): Promise<StoredMessage[]> {
    this.#assertOpen();
    return this.#run('fetch', ['rooms', 'members', 'deliveries', 'broadcasts', 'runs', 'messages', 'audiences'], 'readonly', async (tx) => {
      const [roomRow, member] = await Promise.all([tx.objectStore('rooms').get(room), tx.objectStore('members').get([room, agentId])]);
      if (!roomRow || !member) throw unknownAgent(NAME, agentId, room);
      const start = fetchStart(NAME, room, after, member, roomRow.oldestId);
      // The direct index is one key range; the broadcast walk jumps over the agent's own runs (the storage kit's).
      const [directKeys, broadcastIds] = await Promise.all([
        tx.objectStore('deliveries').getAllKeys(idsAbove(room, start, agentId), limit),
        walkAsync(broadcastWalk(agentId, start, limit), broadcastSource(tx, room)),
      ]);
      const ids = mergeAscending(
        directKeys.map((key) => key[2]),
        broadcastIds,
        limit,
      );
      const present = await messageRows(tx, room, ids);
      await loadEpochs(tx, this.#epochs, room, epochsOf(present));
      return present.map((row) => toStoredMessage(room, row, this.#epochs));
    });
  }

  async history(room: string, after: number, limit: number): Promise<StoredMessage[]> {
    this.#assertOpen();
    return this.#run('history', ['messages', 'audiences'], 'readonly', async (tx) => {
      const rows = await tx.objectStore('messages').getAll(idsAbove(room, after), limit);
      await loadEpochs(tx, this.#epochs, room, epochsOf(rows));
      return rows.map((row) => toStoredMessage(room, row, this.#epochs));
    });
  }

  async ack(room: string, agentId: string, upTo: number): Promise<number> {
    this.#assertOpen();
    return this.#run('ack', ['members'], 'readwrite', async (tx) => {
      const members = tx.objectStore('members');
      const row = await members.get([room, agentId]);
      if (!row) throw unknownAgent(NAME, agentId, room);
      if (upTo > row.cursor) {
        row.cursor = upTo;
        unwrap(members).put(row, [room, agentId]);
      }
      return row.cursor;
    });
  }

  watch(room: string, listener: (message: StoredMessage) => void): () => void {
    this.#assertOpen();
    let listeners = this.#watchers.get(room);
    if (!listeners) this.#watchers.set(room, (listeners = new Set()));
    listeners.add(listener);
    this.#openChannel();
    return () => void listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#watchers.clear();
    this.#channel?.close();
    this.#channel = undefined;
    const opening = this.#opening;
    this.#opening = undefined;
    // Transactions already started finish first: IndexedDB closes the connection after them.
    if (opening) await opening.then((db) => db.close()).catch(() => {});
  }

  // --- internal helpers ---

  /** Appends everything queued for `room`, one transaction per batch, until the queue is empty. */
  async #flush(room: string, queue: PendingAppend[]): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.splice(0, MAX_BATCH);
      await this.#appendBatch(room, batch);
    }
    this.#queues.delete(room);
  }

  async #appendBatch(room: string, batch: PendingAppend[]): Promise<void> {
    try {
      const outcome = await this.#run('append', APPEND_STORES, 'readwrite', (tx) =>
        appendBatch(
          tx,
          room,
          batch.map((p) => p.draft),
          this.#maxMessages,
          this.#epochs,
        ),
      );
      if (outcome.stored.length > 0) this.#announce(room, outcome.stored);
      batch.forEach((pending, i) => {
        const result = outcome.results[i] as AppendResult | MessageBusError;
        if (result instanceof Error) pending.reject(result);
        else pending.resolve(result);
      });
    } catch (error) {
      if (batch.length === 1 || !MessageBusError.is(error, 'STORAGE_FAILURE')) {
        for (const pending of batch) pending.reject(error);
        return;
      }
      // The whole batch was rolled back; retry each draft alone so one that cannot fit (quota) fails by itself.
      for (const pending of batch) await this.#appendBatch(room, [pending]);
    }
  }

  /** Tells this instance's watchers directly, and every other instance on the database (other tabs) through the channel. */
  #announce(room: string, messages: StoredMessage[]): void {
    this.#deliver(room, messages);
    try {
      this.#openChannel()?.postMessage({ room, messages } satisfies ChannelNote);
    } catch {
      // A closed channel (the backend is closing) only costs the live hint; the bus fetches to close gaps.
    }
  }

  #deliver(room: string, messages: readonly StoredMessage[]): void {
    const listeners = this.#watchers.get(room);
    if (!listeners) return;
    for (const message of messages) {
      for (const listener of listeners) {
        try {
          listener(message);
        } catch {
          // A watcher is the bus, which reports its own errors; one must not stop the others.
        }
      }
    }
  }

  #openChannel(): BroadcastChannel | undefined {
    if (this.#channel || this.#closed || typeof BroadcastChannel !== 'function') return this.#channel;
    const channel = new BroadcastChannel(`modular-message-bus:${this.#dbName}`);
    channel.onmessage = (event: MessageEvent<ChannelNote>) => {
      const note = event.data;
      if (note && typeof note.room === 'string' && Array.isArray(note.messages)) this.#deliver(note.room, note.messages);
    };
    // Node.js: an open channel would keep the process alive.
    (channel as { unref?: () => void }).unref?.();
    this.#channel = channel;
    return channel;
  }

  /**
   * Runs `body` in one transaction; resolves after a readwrite transaction has committed. Failures become
   * STORAGE_FAILURE. Writes inside `body` go through unwrapped stores: a failing one aborts the transaction,
   * seen here through `done`, instead of leaving a rejected promise nobody awaits.
   */
  async #run<T, Mode extends IDBTransactionMode>(
    operation: string,
    stores: StoreName[],
    mode: Mode,
    body: (tx: BusTransaction<Mode>) => Promise<T>,
  ): Promise<T> {
    const db = await this.#database();
    let tx: BusTransaction<Mode>;
    try {
      tx = db.transaction(stores, mode);
    } catch (error) {
      throw this.#lost ?? failure(operation, error, this.#dbName);
    }
    const done = tx.done;
    // Observed below; this keeps an abort that follows a failed request from being reported as unhandled.
    done.catch(() => {});
    try {
      const result = await body(tx);
      if (mode === 'readwrite') await done;
      return result;
    } catch (error) {
      try {
        tx.abort();
      } catch {
        // Already finished or aborted.
      }
      throw this.#lost ?? failure(operation, error, this.#dbName);
    }
  }

  async #database(): Promise<BusDatabase> {
    this.#assertOpen();
    if (this.#lost) throw this.#lost;
    this.#opening ??= openBusDatabase(this.#factory, this.#dbName, {
      onVersionChange: () =>
        this.#lose(
          `another tab upgraded or deleted the database "${this.#dbName}", so this tab's connection was closed to let it proceed. Reload this page.`,
        ),
      onTerminated: () =>
        this.#lose(`the browser closed the connection to "${this.#dbName}" (storage cleared or a disk error). Reload this page.`),
    }).catch((error) => {
      this.#opening = undefined;
      throw error;
    });
    return this.#opening;
  }

  #lose(reason: string): void {
    this.#lost = new MessageBusError('STORAGE_FAILURE', `[${NAME}] ${reason}`, { details: { reason: 'connection-lost' } });
    this.#opening = undefined;
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError(NAME);
  }
}

interface PendingAppend {
  draft: MessageDraft;
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

/** What one instance posts to the others after a commit. */
interface ChannelNote {
  room: string;
  messages: StoredMessage[];
}

/**
 * The message rows of `ids` (ascending). Ids that lie close together (the usual case: broadcasts, or an agent
 * that receives most of the traffic) are read with one getAll over their span, which costs one request instead
 * of one per row; sparse ids are read one by one. Either way at most 2 * ids.length rows are read.
 */
async function messageRows(tx: BusTransaction<'readonly'>, room: string, ids: readonly number[]): Promise<MessageRow[]> {
  if (ids.length === 0) return [];
  const messages = tx.objectStore('messages');
  const first = ids[0] as number;
  const last = ids[ids.length - 1] as number;
  if (last - first + 1 <= ids.length * 2) {
    const wanted = new Set(ids);
    return (await messages.getAll(IDBKeyRange.bound([room, first], [room, last]))).filter((row) => wanted.has(row.id));
  }
  const rows = await Promise.all(ids.map((id) => messages.get([room, id])));
  return rows.filter((row) => row !== undefined);
}

/** Highest retained id routed to the member: the last of its direct index, or a later broadcast it received. */
async function lastRoutedId(tx: BusTransaction<'readonly'>, room: string, roomRow: RoomRow, member: StoredMember): Promise<number> {
  const directCursor = await tx
    .objectStore('deliveries')
    .openKeyCursor(IDBKeyRange.bound([room, member.id], [room, member.id, []]), 'prev');
  const lastDirect = directCursor ? directCursor.key[2] : 0;
  const floor = Math.max(lastDirect, member.joinedAfter);
  const lastBroadcast = await walkAsync(lastBroadcastWalk(member.id, floor), broadcastSource(tx, room));
  return retainedOrZero(Math.max(lastDirect, lastBroadcast), roomRow.oldestId);
}
