// The shared redis-server launcher (scripts/support/redis-server.mjs), under the name the SDK's tests import.
import { createClient } from 'redis';
import { afterAll, beforeAll } from 'vitest';
import { type RedisServer, startRedis } from '../../../scripts/support/redis-server.mjs';

export { type RedisServer, type StartRedisOptions, startRedis } from '../../../scripts/support/redis-server.mjs';

/** A test file's redis-server and a plain client on it, for looking at keys and stats behind the backend's back. */
export interface FileRedis {
  readonly server: RedisServer;
  readonly client: ReturnType<typeof createClient>;
}

/** Starts a redis-server and connects a client before the file's tests, and stops both after them. */
export function redisForFile(): FileRedis {
  const redis = {} as { server: RedisServer; client: ReturnType<typeof createClient> };
  beforeAll(async () => {
    redis.server = await startRedis();
    redis.client = createClient({ url: redis.server.url });
    redis.client.on('error', () => {});
    await redis.client.connect();
  });
  afterAll(async () => {
    await redis.client?.close();
    await redis.server?.dispose();
  });
  return redis;
}
