/**
 * `RedisStorageBackend`: rooms in Redis, shared by any number of Node.js processes (node-redis, loaded on
 * first use). Files: `backend.ts` (the storage contract), `connection.ts` and `client.ts` (connecting, TLS,
 * bounded failures), `live.ts` (pub/sub feeds), `codec.ts` (stored values), `scripts/` (the Lua).
 */
export { RedisStorageBackend } from './backend.js';
export type { PemInput, RedisClientLike, RedisStorageOptions, RedisTlsOptions } from './options.js';
