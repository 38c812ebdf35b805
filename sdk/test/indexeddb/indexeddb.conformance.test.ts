import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { describe, it } from 'vitest';
import { IndexedDBStorageBackend } from '../../src/backends/indexeddb/index.js';
import { storageBackendSuite } from '../../src/testing/index.js';

// One in-memory IndexedDB for the file: the suite uses a fresh room per test, and a second
// writer (another tab) is a second backend instance on the same database.
const factory = new IDBFactory();
const dbName = 'conformance';

storageBackendSuite('IndexedDBStorageBackend (fake-indexeddb)', {
  create: ({ maxMessages }) => new IndexedDBStorageBackend({ dbName, indexedDB: factory, maxMessages }),
  reopen: () => new IndexedDBStorageBackend({ dbName, indexedDB: factory }),
  test: { describe, it },
});
