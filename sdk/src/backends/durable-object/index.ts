export {
  DurableObjectStorageBackend,
  type DurableObjectStorageLike,
  type DurableObjectStorageOptions,
  type SqlCursorLike,
  type SqlStorageLike,
} from './backend.js';
