// No fake-indexeddb/auto here: this file sees Node.js as it is, without IndexedDB.
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { IndexedDBStorageBackend } from '../../src/backends/indexeddb/index.js';
import { MessageBusError } from '../../src/core/errors.js';

describe('IndexedDBStorageBackend outside a browser', () => {
  it('throws MISCONFIGURED saying it needs a browser (or a factory)', () => {
    expect('indexedDB' in globalThis).toBe(false);
    let error: unknown;
    try {
      new IndexedDBStorageBackend();
    } catch (e) {
      error = e;
    }
    expect(MessageBusError.is(error, 'MISCONFIGURED')).toBe(true);
    expect((error as Error).message).toMatch(/\[indexeddb\] IndexedDBStorageBackend needs a browser/);
    expect((error as Error).message).toMatch(/pass a factory/);
  });

  it('with a factory but without the IDB* globals idb relies on, says to load them', () => {
    expect(() => new IndexedDBStorageBackend({ indexedDB: new IDBFactory() })).toThrowError(/import "fake-indexeddb\/auto"/);
  });
});
