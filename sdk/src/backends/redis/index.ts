/**
 * `RedisStorageBackend`: rooms in Redis, shared by any number of Node.js processes (node-redis, loaded on
 * first use). Files: `backend.ts` (the storage contract), `connection.ts` and `client.ts` (connecting, TLS,
 * bounded failures), `live.ts` (pub/sub feeds), `codec.ts` (stored values), `scripts/` (the Lua).
 */
export { RedisStorageBackend } from './backend.js';
export type { RedisClientLike } from './client.js';
export type { PemInput, RedisStorageOptions, RedisTlsOptions } from './options.js';
