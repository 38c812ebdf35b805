/**
 * How the bus hands a message to `StorageBackend.append`. A backend that
 * keeps the bus's frozen objects as they are (the memory backend) says so
 * with `KEEPS_DRAFT_OBJECTS`; its drafts make `contentJson` when it is first
 * read instead of on every send (stringifying was the largest single cost of
 * an in-memory send). Every other backend gets a plain object with the text
 * in it, as `MessageDraft` documents, so spreading or cloning a draft keeps it.
 */
import type { Audience, JsonValue, MemberRecord, MessageDraft, MessageMetadata, RoutingDecision } from './types.js';

/**
 * @internal Set to `true` on a backend that reads a draft's `content` and
 * rarely its `contentJson`, and never copies the draft by spreading or
 * cloning it (the getter would not come along).
 */
export const KEEPS_DRAFT_OBJECTS: unique symbol = Symbol('modular-message-bus.keepsDraftObjects');

/** `true` when `storage` declares `KEEPS_DRAFT_OBJECTS`. */
export function keepsDraftObjects(storage: object): boolean {
  return (storage as { [KEEPS_DRAFT_OBJECTS]?: unknown })[KEEPS_DRAFT_OBJECTS] === true;
}

/**
 * A draft whose `contentJson` is made on first read, for backends with `KEEPS_DRAFT_OBJECTS`.
 *
 * Every field exists from the constructor on, the optional ones as `undefined`: a field added later moves the
 * object to another hidden class, and a hidden class that only short-lived drafts have dies with them at a full
 * GC, taking with it the optimised send path compiled against it (V8 "weak objects" deoptimisations, measured by
 * `bench/core.mjs`).
 */
export class LazyJsonDraft implements MessageDraft {
  idempotencyKey?: string = undefined;
  inReplyTo?: number = undefined;
  metadata?: MessageMetadata = undefined;
  metadataJson?: string = undefined;
  streamId?: string = undefined;
  members?: readonly MemberRecord[] = undefined;
  #json: string | undefined;

  constructor(
    public timestamp: number,
    public sender: string,
    public content: JsonValue,
    public recipients: readonly string[],
    public audience: Audience,
    public routing: RoutingDecision,
  ) {}

  get contentJson(): string {
    this.#json ??= JSON.stringify(this.content);
    return this.#json;
  }
}

/**
 * @internal One draft kept for the life of the process so that the drafts' hidden class outlives any full GC (see
 * `LazyJsonDraft`): sends in a quiet moment leave no draft alive, and without this one the class would die then.
 */
// A timestamp beyond V8's small integers, as real ones are: the field keeps the representation real drafts need.
export const KEPT_DRAFT_SHAPE = new LazyJsonDraft(2 ** 40, '', null, [], 'list', { policy: '', requested: null });
