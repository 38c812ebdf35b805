/**
 * Transitional: names the Redis backend still imports from here; they live in
 * the storage kit (./kit/) now. Remove once redis/ imports the kit.
 */
export { byId, cursorExpired, type StoredMember, unknownAgent } from './kit/index.js';
