/** Storage backends in browser bundles: no Node modules, no Redis client. */
import { unavailableBackend } from './unavailable.js';

export { IndexedDBStorageBackend, type IndexedDBStorageOptions } from './indexeddb/index.js';
export { InMemoryStorageBackend, type InMemoryStorageOptions } from './memory/index.js';
export const FileStorageBackend = unavailableBackend('FileStorageBackend', 'Node.js (it writes files with node:fs)');
export const RedisStorageBackend = unavailableBackend('RedisStorageBackend', 'Node.js (it uses a Redis client over TCP)');
export const DurableObjectStorageBackend = unavailableBackend(
  'DurableObjectStorageBackend',
  'a Cloudflare Durable Object (ctx.storage.sql)',
);
export type { StorageBackend } from '../core/types.js';
