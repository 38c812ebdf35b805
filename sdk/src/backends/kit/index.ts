/**
 * The storage kit: every rule a storage backend must keep, written once and
 * free of any runtime API (type-checked with the core by tsconfig.core.json).
 * A backend folder keeps only what its medium needs and calls these; where
 * atomicity forces a rule into Lua (Redis) or SQL (Durable Object), a comment
 * there names the function here that it mirrors.
 */
export { DeliveryIndex } from './delivery-index.js';
export { Epoch, EpochCache } from './epoch.js';
export { checkMaxMessages, closedError, cursorExpired, unknownAgent } from './errors.js';
export { fetchStart, retainedOrZero, type WindowMember } from './fetch-window.js';
export { draftIdempotencyField, idempotencyField } from './idempotency.js';
export { byId, NO_MEMBERS, newMember, type StoredMember, toRecord, toState } from './members.js';
export { NumberList } from './number-list.js';
export { optionalDependency } from './optional-dependency.js';
export {
  type AsyncBroadcastSource,
  type BroadcastRef,
  type BroadcastSource,
  broadcastWalk,
  extendsRun,
  JUMP_SPAN,
  lastBroadcastWalk,
  mergeAscending,
  type OwnRun,
  RunBuilder,
  type WalkRequest,
  walkAsync,
  walkSync,
} from './own-runs.js';
export { firstAbove } from './sorted.js';
export { type MessageFields, messageFromDraft, parseContent, storedMessage } from './stored-message.js';
