import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStorageBackend } from '../../src/backends/redis/index.js';
import { differential, firstDifference, SEEDS } from '../support/differential/index.js';
import { sdkSources as sdk } from '../support/differential/sdk-sources.js';
import { type RedisServer, startRedis } from './server.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.dispose();
});

/**
 * Two RedisStorageBackend instances on one server are two clients of one store, as two processes would be:
 * a membership change through one must be what the other routes with at once, and a bus reopened on a backend
 * must keep seeing the other's changes.
 */
describe('RedisStorageBackend against the scanning reference', () => {
  for (const [seed, maxMessages] of SEEDS) {
    it(`random history #${seed}${maxMessages ? `, maxMessages ${maxMessages}` : ''}, two clients`, async () => {
      const keyPrefix = `diff${seed}:`;
      const store = { open: () => new RedisStorageBackend({ url: server.url, keyPrefix, maxMessages }), persistent: true };
      const result = await differential(store, { sdk, seed, maxMessages, steps: 200 });
      expect(firstDifference(result)).toBeUndefined();
    });
  }
});
