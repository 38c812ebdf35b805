export { InMemoryStorageBackend, type InMemoryStorageOptions } from './backend.js';
