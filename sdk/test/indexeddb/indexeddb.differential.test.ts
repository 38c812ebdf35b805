import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { IndexedDBStorageBackend } from '../../src/backends/indexeddb/index.js';
import { differential, firstDifference, SEEDS } from '../support/differential/index.js';
import { sdkSources as sdk } from '../support/differential/sdk-sources.js';

describe('IndexedDBStorageBackend (fake-indexeddb) against the scanning reference', () => {
  for (const [seed, maxMessages] of SEEDS) {
    it(`random history #${seed}${maxMessages ? `, maxMessages ${maxMessages}` : ''}, two instances (as two tabs)`, async () => {
      const factory = new IDBFactory();
      const store = {
        open: () => new IndexedDBStorageBackend({ dbName: `diff-${seed}`, indexedDB: factory, maxMessages }),
        persistent: true,
      };
      const result = await differential(store, { sdk, seed, maxMessages, steps: 200 });
      expect(firstDifference(result)).toBeUndefined();
    }, 120_000);
  }
});
