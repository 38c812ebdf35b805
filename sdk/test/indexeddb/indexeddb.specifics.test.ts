/**
 * What only the IndexedDB backend promises, on fake-indexeddb (a complete IndexedDB in JS):
 * index-only fetch, compact broadcasts, grouped transactions, failures that roll back, and
 * the connection's life (blocked upgrade, another tab's upgrade, a foreign database).
 */
import 'fake-indexeddb/auto';
import { type IDBPDatabase, openDB } from 'idb';
import { afterEach, describe, expect, it } from 'vitest';
import { IndexedDBStorageBackend } from '../../src/backends/indexeddb/index.js';
import { openBusDatabase, SCHEMA_VERSION } from '../../src/backends/indexeddb/schema.js';
import { MessageBus } from '../../src/core/bus.js';
import { MessageBusError } from '../../src/core/errors.js';
import { Message } from '../../src/core/message.js';
import type { RoutingPolicy } from '../../src/core/types.js';
import { BroadcastRoutingPolicy } from '../../src/routing-policies/broadcast.js';
import { IndividualRoutingPolicy } from '../../src/routing-policies/individual.js';

let counter = 0;
const open: Array<{ close(): unknown }> = [];
const restores: Array<() => void> = [];

afterEach(async () => {
  for (const restore of restores.splice(0)) restore();
  for (const item of open.splice(0)) await item.close();
});

function freshName(): string {
  return `specifics-${Date.now().toString(36)}-${++counter}`;
}

function backend(dbName: string, options: { maxMessages?: number } = {}): IndexedDBStorageBackend {
  const storage = new IndexedDBStorageBackend({ dbName, ...options });
  open.push(storage);
  return storage;
}

function busOn(storage: IndexedDBStorageBackend, policy: RoutingPolicy = new BroadcastRoutingPolicy(), room = 'r'): MessageBus {
  const bus = new MessageBus(storage, policy, { room, logLevel: 'silent', closeStorage: false });
  open.push(bus);
  return bus;
}

async function raw(dbName: string): Promise<IDBPDatabase> {
  const db = await openDB(dbName);
  open.push(db);
  return db;
}

/** Replaces `proto[method]` for one test, keeping a way back. */
function patch<T extends object, K extends keyof T>(proto: T, method: K, replacement: (original: T[K]) => T[K]): void {
  const original = proto[method];
  proto[method] = replacement(original);
  restores.push(() => {
    proto[method] = original;
  });
}

/** Counts the records each store hands back (get/getAll/getAllKeys/cursor steps) while `body` runs. */
async function countReads(body: () => Promise<unknown>): Promise<Map<string, number>> {
  const reads = new Map<string, number>();
  const add = (store: string, n: number) => reads.set(store, (reads.get(store) ?? 0) + n);
  const proto = IDBObjectStore.prototype as unknown as Record<string, (...args: unknown[]) => IDBRequest>;
  for (const method of ['get', 'getKey', 'getAll', 'getAllKeys', 'openCursor', 'openKeyCursor']) {
    patch(
      proto,
      method,
      (original) =>
        function (this: IDBObjectStore, ...args: unknown[]) {
          const request = original.apply(this, args);
          const name = this.name;
          request.addEventListener('success', () => {
            const result = request.result as unknown;
            add(name, Array.isArray(result) ? result.length : result === undefined || result === null ? 0 : 1);
          });
          return request;
        },
    );
  }
  await body();
  for (const restore of restores.splice(0)) restore();
  return reads;
}

describe('IndexedDBStorageBackend: construction', () => {
  it('rejects bad options with INVALID_ARGUMENT', () => {
    expect(() => new IndexedDBStorageBackend({ dbName: '' })).toThrowError(/dbName must be a non-empty string/);
    expect(() => new IndexedDBStorageBackend({ maxMessages: 0 })).toThrowError(/maxMessages must be a positive integer/);
    try {
      new IndexedDBStorageBackend({ maxMessages: 1.5 });
      expect.unreachable();
    } catch (error) {
      expect(MessageBusError.is(error, 'INVALID_ARGUMENT')).toBe(true);
    }
  });
});

describe('IndexedDBStorageBackend: storage layout', () => {
  it('answers fetch from the indexes, reading only the rows it returns plus index entries', async () => {
    const storage = backend(freshName());
    const bus = busOn(storage, new IndividualRoutingPolicy());
    for (const agent of ['a', 'b', 'c']) await bus.connectAgent(agent);
    for (let i = 1; i <= 600; i++) await bus.sendMessage(new Message('a', i, [i % 200 === 0 ? 'b' : 'c']));
    let fetched: unknown[] = [];
    const reads = await countReads(async () => {
      fetched = (await bus.fetchMessages('b', 0)).map((m) => m.content);
    });
    expect(fetched).toEqual([200, 400, 600]);
    // 3 message rows, 3 delivery keys; nothing proportional to the room's 600 messages.
    expect(reads.get('messages')).toBe(3);
    expect(reads.get('deliveries')).toBe(3);
    expect(reads.get('broadcasts') ?? 0).toBe(0);
  });

  it('reads a page of broadcasts with work proportional to the page, wherever it starts', async () => {
    const storage = backend(freshName());
    const bus = busOn(storage);
    for (const agent of ['a', 'b', 'c']) await bus.connectAgent(agent);
    await Promise.all(Array.from({ length: 900 }, (_, i) => bus.sendMessage(new Message(i % 3 === 0 ? 'b' : 'a', i))));
    for (const after of [0, 450, 850]) {
      let ids: number[] = [];
      const reads = await countReads(async () => {
        ids = (await bus.fetchMessages('b', after, { limit: 40 })).map((m) => m.id);
      });
      // b's own broadcasts (every third id) are skipped: 40 of the next ~60 ids.
      const expected = Array.from({ length: 900 }, (_, i) => i + 1)
        .filter((id) => id > after && (id - 1) % 3 !== 0)
        .slice(0, 40);
      expect(ids).toEqual(expected);
      expect(reads.get('messages')).toBeLessThanOrEqual(80);
      expect(reads.get('broadcasts')).toBeLessThanOrEqual(80);
    }
  });

  it('stores a broadcast once: no per-recipient rows, one audience per membership epoch', async () => {
    const dbName = freshName();
    const storage = backend(dbName);
    const bus = busOn(storage);
    for (let i = 0; i < 20; i++) await bus.connectAgent(`agent-${i}`);
    for (let i = 0; i < 30; i++) await bus.sendMessage(new Message('agent-0', i));
    await bus.connectAgent('late');
    for (let i = 0; i < 5; i++) await bus.sendMessage(new Message('agent-1', i));
    const db = await raw(dbName);
    expect(await db.count('deliveries')).toBe(0);
    expect(await db.count('broadcasts')).toBe(35);
    expect(await db.count('audiences')).toBe(2);
    const [last] = await bus.fetchMessages('late');
    expect(last?.recipients).toHaveLength(20);
    expect((await bus.fetchMessages('agent-5', 0, { limit: 1000 })).length).toBe(35);
  });

  it('groups concurrent appends into a few transactions, with gap-free ids', async () => {
    const storage = backend(freshName());
    const bus = busOn(storage);
    await bus.connectAgent('a');
    await bus.connectAgent('b');
    let readwrite = 0;
    patch(
      IDBDatabase.prototype,
      'transaction',
      (original) =>
        function (this: IDBDatabase, ...args: Parameters<IDBDatabase['transaction']>) {
          if (args[1] === 'readwrite') readwrite++;
          return original.apply(this, args);
        } as IDBDatabase['transaction'],
    );
    const sent = await Promise.all(Array.from({ length: 500 }, (_, i) => bus.sendMessage(new Message('a', i))));
    expect(sent.map((m) => m.id)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(readwrite).toBeLessThanOrEqual(3);
    expect((await bus.history(0, { limit: 1000 })).map((m) => m.content)).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });

  it('retention removes trimmed messages with their index rows, idempotency keys and old audiences', async () => {
    const dbName = freshName();
    const storage = backend(dbName, { maxMessages: 3 });
    const bus = busOn(storage, new IndividualRoutingPolicy());
    await bus.connectAgent('a');
    await bus.connectAgent('b');
    for (let i = 1; i <= 10; i++) await bus.sendMessage(new Message('a', i, ['b'], { idempotencyKey: `k${i}` }));
    const db = await raw(dbName);
    expect(await db.count('messages')).toBe(3);
    expect(await db.count('deliveries')).toBe(3);
    expect(await db.count('idempotency')).toBe(3);
    // A trimmed key may be used again: it stores a new message.
    const again = await bus.sendMessage(new Message('a', 'again', ['b'], { idempotencyKey: 'k1' }));
    expect(again.id).toBe(11);
  });
});

describe('IndexedDBStorageBackend: failures roll back whole', () => {
  it('a quota error fails that send with STORAGE_FAILURE and the reason, stores nothing of it, and the rest go through', async () => {
    const storage = backend(freshName());
    const bus = busOn(storage, new IndividualRoutingPolicy());
    await bus.connectAgent('a');
    await bus.connectAgent('b');
    await bus.sendMessage(new Message('a', 'before', ['b']));
    // Quota is charged as a write lands: fail the message row of one send, after its delivery row was written.
    patch(
      IDBObjectStore.prototype,
      'put',
      (original) =>
        function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
          if (this.name === 'messages' && String((value as { contentJson?: string }).contentJson).includes('huge')) {
            throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
          }
          return original.call(this, value, key);
        } as IDBObjectStore['put'],
    );
    const results = await Promise.allSettled(['one', 'huge', 'two', 'three'].map((text) => bus.sendMessage(new Message('a', text, ['b']))));
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(MessageBusError.is(failed.reason, 'STORAGE_FAILURE')).toBe(true);
    expect(failed.reason.message).toMatch(/QuotaExceededError: The quota has been exceeded/);
    expect(failed.reason.details.reason).toBe('QuotaExceededError');
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    const history = await bus.history(0);
    expect(history.map((m) => [m.id, m.content])).toEqual([
      [1, 'before'],
      [2, 'one'],
      [3, 'two'],
      [4, 'three'],
    ]);
    expect((await bus.fetchMessages('b', 0)).map((m) => m.id)).toEqual([1, 2, 3, 4]);
    expect((await storage.getRoom('r')).members.find((m) => m.id === 'a')?.sentCount).toBe(4);
  });

  it('a transaction that aborts at commit leaves nothing behind', async () => {
    const storage = backend(freshName());
    const bus = busOn(storage);
    await bus.connectAgent('a');
    await bus.connectAgent('b');
    await bus.sendMessage(new Message('a', 'kept'));
    // Abort the append's transaction after all its requests were issued, as a failed commit would.
    patch(
      IDBObjectStore.prototype,
      'put',
      (original) =>
        function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
          const request = original.call(this, value, key);
          if (this.name === 'rooms') this.transaction.abort();
          return request;
        } as IDBObjectStore['put'],
    );
    const error = await bus.sendMessage(new Message('a', 'lost')).catch((e: unknown) => e);
    expect(MessageBusError.is(error, 'STORAGE_FAILURE')).toBe(true);
    expect((error as Error).message).toMatch(/AbortError/);
    for (const restore of restores.splice(0)) restore();
    expect((await bus.history(0)).map((m) => m.content)).toEqual(['kept']);
    expect((await storage.getRoom('r')).lastId).toBe(1);
    expect((await bus.sendMessage(new Message('a', 'next'))).id).toBe(2);
  });
});

describe('IndexedDBStorageBackend: the connection', () => {
  it('a blocked upgrade rejects with STORAGE_FAILURE naming the blocker, not a hang', async () => {
    const dbName = freshName();
    // Another tab holds version 1 open and ignores versionchange.
    const holder = await openDB(dbName, 1);
    open.push(holder);
    const error = await openBusDatabase(indexedDB, dbName, { onVersionChange() {}, onTerminated() {} }, SCHEMA_VERSION).catch(
      (e: unknown) => e,
    );
    expect(MessageBusError.is(error, 'STORAGE_FAILURE')).toBe(true);
    expect((error as MessageBusError).details.reason).toBe('blocked');
    expect((error as Error).message).toMatch(/blocked: another tab holds version 1 open/);
  });

  it('gives way to another tab upgrading the database, then fails clearly', async () => {
    const dbName = freshName();
    const storage = backend(dbName);
    const bus = busOn(storage);
    await bus.connectAgent('a');
    const newer = await openDB(dbName, SCHEMA_VERSION + 1); // would hang if the backend did not close its connection
    open.push(newer);
    const error = await storage.getRoom('r').catch((e: unknown) => e);
    expect(MessageBusError.is(error, 'STORAGE_FAILURE')).toBe(true);
    expect((error as Error).message).toMatch(/another tab upgraded or deleted the database .* Reload this page/);
  });

  it('a database of a newer schema, or of another program, is reported with the reason', async () => {
    const newer = freshName();
    (await openDB(newer, 7)).close();
    const error = await backend(newer)
      .listRooms()
      .catch((e: unknown) => e);
    expect(MessageBusError.is(error, 'STORAGE_FAILURE')).toBe(true);
    expect((error as Error).message).toMatch(/VersionError/);

    const foreign = freshName();
    (await openDB(foreign, 1, { upgrade: (db) => void db.createObjectStore('things') })).close();
    const other = await backend(foreign)
      .listRooms()
      .catch((e: unknown) => e);
    expect(MessageBusError.is(other, 'STORAGE_FAILURE')).toBe(true);
    expect((other as Error).message).toMatch(/lacks the stores rooms, members/);
  });

  it('keeps everything for a new instance on the same database, as after a reload', async () => {
    const dbName = freshName();
    const first = backend(dbName);
    const bus = busOn(first, new BroadcastRoutingPolicy());
    await bus.connectAgent('a', { groups: ['g'] });
    await bus.connectAgent('b');
    await bus.sendMessage(new Message('a', 'hello', undefined, { idempotencyKey: 'once' }));
    await bus.ackMessages('b', 1);
    await first.close();
    const second = backend(dbName);
    const again = busOn(second);
    const room = await second.getRoom('r');
    expect(room.members.map((m) => [m.id, m.groups, m.cursor, m.sentCount])).toEqual([
      ['a', ['g'], 0, 1],
      ['b', [], 1, 0],
    ]);
    const retry = await again.sendMessage(new Message('a', 'hello again', undefined, { idempotencyKey: 'once' }));
    expect(retry.id).toBe(1);
    expect(retry.content).toBe('hello');
    expect(await second.listRooms()).toEqual(['r']);
  });
});
