/** Storage backends in Cloudflare Workers bundles: no idb, no Node modules. */
import { unavailableBackend } from './unavailable.js';

export { DurableObjectStorageBackend } from './durable-object/index.js';
export { InMemoryStorageBackend, type InMemoryStorageOptions } from './memory/index.js';
export const IndexedDBStorageBackend = unavailableBackend('IndexedDBStorageBackend', 'a browser (IndexedDB)');
export const FileStorageBackend = unavailableBackend('FileStorageBackend', 'Node.js (it writes files with node:fs)');
export const RedisStorageBackend = unavailableBackend('RedisStorageBackend', 'Node.js (it uses a Redis client over TCP)');
export type { StorageBackend } from '../core/types.js';
