/**
 * Storage backends for Node.js (the `default` export condition). Browser and
 * workerd bundles resolve `index.browser.ts` / `index.workerd.ts` instead, which
 * export the same names but never load Node modules or a Redis client.
 */

export type { StorageBackend } from '../core/types.js';
export {
  DurableObjectStorageBackend,
  type DurableObjectStorageLike,
  type DurableObjectStorageOptions,
  type SqlCursorLike,
  type SqlStorageLike,
} from './durable-object/index.js';
export { FileStorageBackend, type FileStorageOptions } from './file/index.js';
export { IndexedDBStorageBackend, type IndexedDBStorageOptions } from './indexeddb/index.js';
export { InMemoryStorageBackend, type InMemoryStorageOptions } from './memory/index.js';
export { type RedisClientLike, RedisStorageBackend, type RedisStorageOptions, type RedisTlsOptions } from './redis/index.js';
