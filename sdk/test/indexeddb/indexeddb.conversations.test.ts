// A database written by release 0.1.0 (schema version 1: fixtures/v0.1.0/indexeddb.json, from generate.mjs there)
// opens with today's backend, its messages read back as their own threads, and replies thread on them.
import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IDBFactory } from 'fake-indexeddb';
import { describe, it } from 'vitest';
import { IndexedDBStorageBackend } from '../../src/backends/indexeddb/index.js';
import { checkMigratedRoom } from '../fixtures/v0.1.0/expectations.js';

interface Dump {
  version: number;
  stores: { name: string; keyPath: string | null; autoIncrement: boolean; records: { key?: IDBValidKey; value: unknown }[] }[];
}

const dump = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../fixtures/v0.1.0/indexeddb.json'), 'utf8')) as Dump;

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** The 0.1.0 database, rebuilt row by row with the raw API. */
async function restore(factory: IDBFactory, dbName: string): Promise<void> {
  const open = factory.open(dbName, dump.version);
  open.onupgradeneeded = () => {
    for (const store of dump.stores)
      open.result.createObjectStore(store.name, { keyPath: store.keyPath, autoIncrement: store.autoIncrement });
  };
  const db = await request(open);
  const tx = db.transaction(
    dump.stores.map((s) => s.name),
    'readwrite',
  );
  for (const store of dump.stores) for (const { key, value } of store.records) tx.objectStore(store.name).put(value, key);
  await new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
  });
  db.close();
}

describe('IndexedDBStorageBackend on a database of 0.1.0', () => {
  it('reads old messages as their own threads and threads new replies on them, across a reopen', async () => {
    const factory = new IDBFactory();
    await restore(factory, 'v010');
    await checkMigratedRoom(
      new IndexedDBStorageBackend({ dbName: 'v010', indexedDB: factory }),
      async () => new IndexedDBStorageBackend({ dbName: 'v010', indexedDB: factory }),
    );
  });
});
