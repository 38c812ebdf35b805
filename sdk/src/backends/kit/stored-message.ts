/**
 * The one way a backend turns what it stored into the `StoredMessage` the bus
 * hands out: frozen all the way down, `idempotencyKey`, `inReplyTo`,
 * `metadata` and `streamId` present only when set, `routing.requested` a frozen copy, and
 * `thread` the message's own id when nothing says otherwise (a message
 * written before threads existed is its own root).
 */

import { isFrozenRouting } from '../../core/frozen-lists.js';
import type { JsonValue, MessageDraft, MessageMetadata, RoutingDecision, StoredMessage } from '../../core/types.js';
import { deepFreeze } from '../../core/validate.js';

/** What a backend read back (or is about to store) for one message. */
export interface MessageFields {
  id: number;
  timestamp: number;
  sender: string;
  /** Deep-frozen content (see `parseContent`). */
  content: JsonValue;
  /** Frozen, sorted recipient ids; may be shared between messages. */
  recipients: readonly string[];
  policy: string;
  requested: readonly string[] | null;
  idempotencyKey?: string | undefined;
  inReplyTo?: number | undefined;
  /** The thread root; `undefined` (data from before threads) means the message's own id. */
  thread?: number | undefined;
  /** Deep-frozen metadata (see `parseContent`). */
  metadata?: MessageMetadata | undefined;
  /** The stream the message ended, if it did. */
  streamId?: string | undefined;
}

/** Builds the frozen message. */
export function storedMessage(room: string, fields: MessageFields): StoredMessage {
  return frozenMessage(
    room,
    fields.id,
    fields.timestamp,
    fields.sender,
    fields.content,
    fields.recipients,
    routingOf(fields.policy, fields.requested),
    fields.thread ?? fields.id,
    fields.idempotencyKey,
    fields.inReplyTo,
    fields.metadata,
    fields.streamId,
  );
}

/**
 * The message an append stores, from the bus's draft. The draft's content is
 * already a deep-frozen copy made by the bus; a backend that keeps objects
 * (memory) uses it as it is, one that reads JSON text back passes `content`
 * (and `metadata`) parsed from it (`parseContent`), so a fresh read and the append agree.
 */
export function messageFromDraft(
  room: string,
  id: number,
  draft: MessageDraft,
  recipients: readonly string[],
  thread: number,
  content: JsonValue = draft.content,
  metadata: MessageMetadata | undefined = draft.metadata,
): StoredMessage {
  // The bus hands a frozen routing decision (with a frozen `requested`): shared as it is, one object less per message.
  const routing = draft.routing;
  const shared = isFrozenRouting(routing);
  return frozenMessage(
    room,
    id,
    draft.timestamp,
    draft.sender,
    content,
    recipients,
    shared ? routing : routingOf(routing.policy, routing.requested),
    thread,
    draft.idempotencyKey,
    draft.inReplyTo,
    metadata,
    draft.streamId,
  );
}

/** Content read back as JSON text: parsed and deep-frozen, so no reader can change stored history through it. */
export function parseContent(json: string): JsonValue {
  return deepFreeze(JSON.parse(json) as JsonValue);
}

// --- internal helpers ---

function routingOf(policy: string, requested: readonly string[] | null): RoutingDecision {
  // A frozen list (the bus's own snapshot of what the sender asked for) is kept as it is: nobody can change it.
  // Otherwise a copy by spread: slice() on a frozen array leaves V8's fast path (~20x slower).
  return Object.freeze({ policy, requested: requested === null || Object.isFrozen(requested) ? requested : Object.freeze([...requested]) });
}

/** The one literal of a stored message: its optional keys added only when set, so every message has the same key order, whatever the backend. */
function frozenMessage(
  room: string,
  id: number,
  timestamp: number,
  sender: string,
  content: JsonValue,
  recipients: readonly string[],
  routing: RoutingDecision,
  thread: number,
  idempotencyKey: string | undefined,
  inReplyTo: number | undefined,
  metadata: MessageMetadata | undefined,
  streamId: string | undefined,
): StoredMessage {
  const message: { -readonly [K in keyof StoredMessage]: StoredMessage[K] } = {
    id,
    room,
    timestamp,
    sender,
    content,
    recipients,
    routing,
    thread,
  };
  if (idempotencyKey !== undefined) message.idempotencyKey = idempotencyKey;
  if (inReplyTo !== undefined) message.inReplyTo = inReplyTo;
  if (metadata !== undefined) message.metadata = metadata;
  if (streamId !== undefined) message.streamId = streamId;
  return Object.freeze(message);
}
