import { describe, expect, it } from 'vitest';
import { InMemoryStorageBackend } from '../../src/backends/memory/index.js';
import { differential, firstDifference, SEEDS } from '../support/differential/index.js';
import { sdkSources as sdk } from '../support/differential/sdk-sources.js';

describe('InMemoryStorageBackend against the scanning reference', () => {
  for (const [seed, maxMessages] of [...SEEDS, [8, 60], [9, 30], [10, 50]] as const) {
    it(`random history #${seed}${maxMessages ? `, maxMessages ${maxMessages}` : ''}`, async () => {
      // One instance shared by both buses: the memory store has no second handle.
      const storage = new InMemoryStorageBackend({ maxMessages });
      const result = await differential({ open: () => storage, persistent: false }, { sdk, seed, maxMessages, steps: 300 });
      expect(firstDifference(result)).toBeUndefined();
    });
  }
});
