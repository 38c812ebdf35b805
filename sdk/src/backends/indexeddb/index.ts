export { IndexedDBStorageBackend, type IndexedDBStorageOptions } from './backend.js';
