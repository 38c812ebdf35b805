export { FileStorageBackend, type FileStorageOptions } from './backend.js';
