/**
 * Schema version 1 → 2. fixtures/v1-database.json holds every row a version-1
 * database had after a history written by the library before version 2 (see
 * fixtures/make-v1-database.mjs), and what that library answered about it.
 * Loaded into a version-1 database and opened with today's backend, it must
 * answer the same, keep every row, and gain the `runs` store built from the
 * broadcast index, which later broadcasts keep extending.
 */
import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { IndexedDBStorageBackend } from '../../src/backends/indexeddb/index.js';
import { Message, MessageBus } from '../../src/index.js';
import { BroadcastRoutingPolicy } from '../../src/routing-policies/index.js';

type Rows = [IDBValidKey, unknown][];
interface Fixture {
  version: number;
  stores: Record<string, Rows>;
  answers: Record<string, { room: unknown; fetch: Record<string, { after: number; all: number[]; first: Record<string, number[]> }> }>;
}

const fixture = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'v1-database.json'), 'utf8')) as Fixture;

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** A version-1 database holding the fixture's rows, written with the raw API (no code of this library). */
async function versionOneDatabase(factory: IDBFactory, dbName: string): Promise<void> {
  const open = factory.open(dbName, 1);
  open.onupgradeneeded = () => {
    for (const store of Object.keys(fixture.stores)) open.result.createObjectStore(store);
  };
  const db = await request(open);
  const tx = db.transaction(Object.keys(fixture.stores), 'readwrite');
  for (const [store, rows] of Object.entries(fixture.stores)) for (const [key, value] of rows) tx.objectStore(store).put(value, key);
  await new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
  });
  db.close();
}

async function dump(factory: IDBFactory, dbName: string): Promise<{ version: number; stores: Record<string, Rows> }> {
  const db = await request(factory.open(dbName));
  const stores: Record<string, Rows> = {};
  for (const name of Array.from(db.objectStoreNames)) {
    const store = db.transaction(name).objectStore(name);
    const [keys, values] = await Promise.all([request(store.getAllKeys()), request(store.getAll())]);
    stores[name] = keys.map((key, i) => [key, values[i]]);
  }
  db.close();
  return { version: db.version, stores };
}

/** Own runs as a plain scan of the broadcast rows finds them: consecutive broadcasts of a room excluding one sender. */
function scannedRuns(broadcasts: Rows): Rows {
  const runs: Rows = [];
  let open: { room: string; sender: string; first: number; last: number } | undefined;
  const close = () => open && runs.push([[open.room, open.sender, open.first], { first: open.first, last: open.last }]);
  for (const [key, value] of broadcasts) {
    const [room, id] = key as [string, number];
    const except = (value as { except: string | null }).except;
    if (open && open.room === room && open.sender === except) open.last = id;
    else {
      close();
      open = except === null ? undefined : { room, sender: except, first: id, last: id };
    }
  }
  close();
  return runs.sort((a, b) => indexedDB.cmp(a[0], b[0]));
}

describe('IndexedDBStorageBackend opens a version-1 database written by the library before version 2', () => {
  it('answers exactly as version 1 did, keeps every row, and builds the runs store', async () => {
    const factory = new IDBFactory();
    await versionOneDatabase(factory, 'upgrade');
    const storage = new IndexedDBStorageBackend({ dbName: 'upgrade', indexedDB: factory });
    for (const [room, answer] of Object.entries(fixture.answers)) {
      expect(await storage.getRoom(room)).toEqual(answer.room);
      for (const [agent, { after, all, first }] of Object.entries(answer.fetch)) {
        expect(
          (await storage.fetch(room, agent, after, 1000)).map((m) => m.id),
          `${room} ${agent}`,
        ).toEqual(all);
        for (const [x, ids] of Object.entries(first))
          expect((await storage.fetch(room, agent, Number(x), 1)).map((m) => m.id)).toEqual(ids);
      }
    }
    const upgraded = await dump(factory, 'upgrade');
    expect(upgraded.version).toBe(2);
    for (const [store, rows] of Object.entries(fixture.stores)) expect(upgraded.stores[store], store).toEqual(rows);
    expect(upgraded.stores.runs).toEqual(scannedRuns(fixture.stores.broadcasts as Rows));
    expect(upgraded.stores.runs?.length).toBeGreaterThan(3);

    // The lobby ended on an open run of a's broadcasts: a's next broadcasts extend it, and b still jumps nothing.
    const lobby = new MessageBus(storage, new BroadcastRoutingPolicy(), { room: 'lobby', logLevel: 'silent', closeStorage: false });
    const [openRun] = (upgraded.stores.runs as Rows)
      .filter(([key]) => (key as string[])[0] === 'lobby' && (key as string[])[1] === 'a')
      .slice(-1);
    expect(openRun).toBeDefined();
    const { first } = (openRun as Rows[number])[1] as { first: number; last: number };
    const sent = [];
    for (let i = 0; i < 3; i++) sent.push((await lobby.sendMessage(new Message('a', `after the upgrade ${i}`))).id);
    const after = await dump(factory, 'upgrade');
    const lobbyRunsOfA = (after.stores.runs as Rows).filter(([key]) => (key as string[])[0] === 'lobby' && (key as string[])[1] === 'a');
    expect(lobbyRunsOfA.at(-1)?.[1]).toEqual({ first, last: sent[2] });
    expect(await storage.fetch('lobby', 'a', first - 1, 10)).toEqual([]);
    const b = fixture.answers.lobby?.fetch.b;
    expect((await storage.fetch('lobby', 'b', 0, 1000)).map((m) => m.id)).toEqual([...(b?.all ?? []), ...sent]);
    await lobby.close();
    await storage.close();
  });
});
