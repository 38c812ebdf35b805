import * as fs from 'node:fs';
import * as path from 'node:path';
import { asStorageFailure, MessageBusError } from '../../core/errors.js';
import type {
  AppendResult,
  MemberRecord,
  MemberUpdate,
  MessageDraft,
  RoomSnapshot,
  StorageBackend,
  StoredMessage,
} from '../../core/types.js';
import { assertId } from '../../core/validate.js';
import { checkMaxMessages, closedError, NO_MEMBERS, unknownAgent } from '../kit/index.js';
import { type FsyncMode, NAME } from './files.js';
import { RoomStore, roomDir } from './room.js';

const FSYNC_MODES: readonly FsyncMode[] = ['always', 'batch', 'never'];

/** Options of `FileStorageBackend`. */
export interface FileStorageOptions {
  /** Where rooms live: one sub-directory per room. Created if missing. */
  directory: string;
  /**
   * When a write reaches the disk:
   * - `'always'` (default): `append` (and member changes, acks) resolve only after fsync, so an acknowledged
   *   message survives a power loss. Concurrent appends share one fsync.
   * - `'batch'`: fsync every `batchIntervalMs`; a power loss can lose the writes of the last interval
   *   (a process crash loses nothing: the data is in the OS page cache).
   * - `'never'`: the OS decides; a power loss can lose the last seconds (a process crash still loses nothing).
   */
  fsync?: FsyncMode;
  /** fsync period of `'batch'`, in ms. Default 100. */
  batchIntervalMs?: number;
  /** Keep at most this many messages per room, trimming the oldest. Default: keep all. */
  maxMessages?: number;
}

/**
 * Keeps rooms in files, for one Node.js process: per room an append-only
 * message log, a compact binary index (per-recipient delivery lists and one
 * entry per broadcast naming its stored-once audience) and a JSON-lines
 * journal of members and cursors. See docs/file-and-redis.md for the format.
 *
 * Each room directory is locked by the process that opens it; a second
 * process gets `STORAGE_FAILURE` naming the holder (use `RedisStorageBackend`
 * to share rooms between processes). Within one process, every
 * `FileStorageBackend` on the same directory shares one open room, so several
 * buses see each other's messages live.
 *
 * @example
 * ```ts
 * const storage = new FileStorageBackend({ directory: './data/rooms', fsync: 'always' });
 * const bus = new MessageBus(storage, new BroadcastRoutingPolicy(), { room: 'lobby' });
 * ```
 */
export class FileStorageBackend implements StorageBackend {
  readonly name = NAME;
  readonly #directory: string;
  readonly #fsync: FsyncMode;
  readonly #batchIntervalMs: number;
  readonly #maxMessages: number | undefined;
  /** Rooms this instance holds a reference to. */
  readonly #rooms = new Map<string, RoomStore>();
  readonly #watchers = new Set<() => void>();
  #closed = false;

  constructor(options: FileStorageOptions) {
    const { directory, fsync = 'always', batchIntervalMs = 100, maxMessages } = options ?? ({} as FileStorageOptions);
    if (typeof directory !== 'string' || directory.length === 0) {
      throw new MessageBusError('INVALID_ARGUMENT', `[${NAME}] pass { directory: '/path/to/rooms' }: the folder that holds the rooms`);
    }
    if (!FSYNC_MODES.includes(fsync)) {
      throw new MessageBusError('INVALID_ARGUMENT', `[${NAME}] fsync must be 'always', 'batch' or 'never'; got ${JSON.stringify(fsync)}`);
    }
    if (!Number.isInteger(batchIntervalMs) || batchIntervalMs < 1) {
      throw new MessageBusError('INVALID_ARGUMENT', `[${NAME}] batchIntervalMs must be a positive integer; got ${batchIntervalMs}`);
    }
    checkMaxMessages(NAME, maxMessages);
    this.#directory = path.resolve(directory);
    this.#fsync = fsync;
    this.#batchIntervalMs = batchIntervalMs;
    this.#maxMessages = maxMessages;
  }

  async getMembers(room: string): Promise<readonly MemberRecord[]> {
    return this.#run('getMembers', room, false, (store) => store?.getMembers() ?? NO_MEMBERS);
  }

  async getRoom(room: string): Promise<RoomSnapshot> {
    return this.#run('getRoom', room, false, (store) => store?.getRoom() ?? { room, lastId: 0, oldestId: 1, members: [] });
  }

  async listRooms(): Promise<string[]> {
    this.#assertOpen();
    let names: string[];
    try {
      names = fs.readdirSync(this.#directory);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw asStorageFailure(NAME, 'listRooms', error);
    }
    return names
      .filter((n) => n.startsWith('r-') && fs.existsSync(path.join(this.#directory, n, 'meta.jsonl')))
      .map((n) => n.slice(2))
      .sort();
  }

  async putMember(room: string, update: MemberUpdate): Promise<MemberRecord> {
    return this.#run('putMember', room, true, (store) => store.putMember(update));
  }

  async removeMember(room: string, agentId: string): Promise<boolean> {
    return this.#run('removeMember', room, false, (store) => store?.removeMember(agentId) ?? false);
  }

  async append(room: string, draft: MessageDraft): Promise<AppendResult> {
    return this.#run('append', room, true, (store) => store.append(draft, this.#maxMessages));
  }

  async fetch(room: string, agentId: string, after: number | null, limit: number): Promise<StoredMessage[]> {
    return this.#run('fetch', room, false, (store) => {
      if (!store) throw unknownAgent(NAME, agentId, room);
      return store.fetch(agentId, after, limit);
    });
  }

  async history(room: string, after: number, limit: number): Promise<StoredMessage[]> {
    return this.#run('history', room, false, (store) => store?.history(after, limit) ?? []);
  }

  async ack(room: string, agentId: string, upTo: number): Promise<number> {
    return this.#run('ack', room, false, (store) => {
      if (!store) throw unknownAgent(NAME, agentId, room);
      return store.ack(agentId, upTo);
    });
  }

  /** Live feed of the room within this process (every backend sharing the directory here). */
  watch(room: string, listener: (message: StoredMessage) => void): () => void {
    this.#assertOpen();
    const store = this.#store(room, true);
    store.watchers.add(listener);
    const stop = () => {
      store.watchers.delete(listener);
      this.#watchers.delete(stop);
    };
    this.#watchers.add(stop);
    return stop;
  }

  /** Releases this instance's rooms; the last instance on a room fsyncs and closes its files and removes its lock. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const stop of [...this.#watchers]) stop();
    let failure: unknown;
    for (const store of this.#rooms.values()) {
      try {
        release(store);
      } catch (error) {
        failure ??= error;
      }
    }
    this.#rooms.clear();
    if (failure !== undefined) throw asStorageFailure(NAME, 'close', failure);
  }

  // --- internal helpers ---

  async #run<T>(operation: string, room: string, create: true, body: (store: RoomStore) => T | Promise<T>): Promise<T>;
  async #run<T>(operation: string, room: string, create: false, body: (store: RoomStore | undefined) => T | Promise<T>): Promise<T>;
  async #run<T>(operation: string, room: string, create: boolean, body: (store: RoomStore) => T | Promise<T>): Promise<T> {
    this.#assertOpen();
    try {
      return await body(this.#store(room, create as true));
    } catch (error) {
      throw asStorageFailure(NAME, `${operation} in room "${room}"`, error);
    }
  }

  /** This instance's handle on `room`: shared with other instances in the process, opened (and locked) on first use. */
  #store(room: string, create: boolean): RoomStore {
    let store = this.#rooms.get(room);
    if (store) return store;
    // Room ids name directories: only the bus's id alphabet may reach the file system.
    assertId(room, `[${NAME}] room`);
    const key = `${this.#directory}\u0000${room}`;
    store = openRooms.get(key);
    if (!store) {
      if (!create && !fs.existsSync(path.join(roomDir(this.#directory, room), 'meta.jsonl'))) return undefined as unknown as RoomStore;
      store = RoomStore.open(this.#directory, room, {
        fsync: this.#fsync,
        batchIntervalMs: this.#batchIntervalMs,
        maxMessages: this.#maxMessages,
      });
      openRooms.set(key, store);
    }
    store.refs++;
    this.#rooms.set(room, store);
    return store;
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError(NAME);
  }
}

/** Rooms open in this process, by directory and room: the lock is per process, so instances share them. */
const openRooms = new Map<string, RoomStore>();

function release(store: RoomStore): void {
  if (--store.refs > 0) return;
  for (const [key, open] of openRooms) if (open === store) openRooms.delete(key);
  store.close();
}
