import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStorageBackend } from '../../src/backends/redis/index.js';
import { differential } from '../file/differential.js';
import { type RedisServer, startRedis } from './server.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.dispose();
});

describe('RedisStorageBackend behaves exactly like the in-memory reference', () => {
  for (const [seed, maxMessages] of [
    [1, undefined],
    [2, undefined],
    [3, 25],
    [4, 60],
  ] as const) {
    it(`random history #${seed}${maxMessages ? `, maxMessages ${maxMessages}` : ''}`, async () => {
      const storage = new RedisStorageBackend({ url: server.url, maxMessages });
      const { expected, actual } = await differential(storage, `room-${seed}`, seed, maxMessages);
      expect(actual).toEqual(expected);
      await storage.close();
    });
  }
});
