import { afterAll, beforeAll, describe, it } from 'vitest';
import { RedisStorageBackend } from '../../src/backends/redis/index.js';
import { storageBackendSuite } from '../../src/testing/index.js';
import { type RedisServer, startRedis } from './server.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.dispose();
});

storageBackendSuite('RedisStorageBackend', {
  create: ({ maxMessages }) => new RedisStorageBackend({ url: server.url, maxMessages }),
  // Another process would open its own connection to the same server: so does this.
  reopen: () => new RedisStorageBackend({ url: server.url }),
  test: { describe, it },
});
