/**
 * The one way a backend turns what it stored into the `StoredMessage` the bus
 * hands out: frozen all the way down, `idempotencyKey` present only when set,
 * `routing.requested` a frozen copy.
 */
import type { JsonValue, MessageDraft, StoredMessage } from '../../core/types.js';
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
}

/** Builds the frozen message. */
export function storedMessage(room: string, fields: MessageFields): StoredMessage {
  const requested = fields.requested;
  const routing = Object.freeze({ policy: fields.policy, requested: requested === null ? null : Object.freeze(requested.slice()) });
  const message: StoredMessage =
    fields.idempotencyKey === undefined
      ? {
          id: fields.id,
          room,
          timestamp: fields.timestamp,
          sender: fields.sender,
          content: fields.content,
          recipients: fields.recipients,
          routing,
        }
      : {
          id: fields.id,
          room,
          timestamp: fields.timestamp,
          sender: fields.sender,
          content: fields.content,
          recipients: fields.recipients,
          routing,
          idempotencyKey: fields.idempotencyKey,
        };
  return Object.freeze(message);
}

/**
 * The message an append stores, from the bus's draft. The draft's content is
 * already a deep-frozen copy made by the bus; a backend that keeps objects
 * (memory) uses it as it is.
 */
export function messageFromDraft(room: string, id: number, draft: MessageDraft, recipients: readonly string[]): StoredMessage {
  return storedMessage(room, {
    id,
    timestamp: draft.timestamp,
    sender: draft.sender,
    content: draft.content,
    recipients,
    policy: draft.routing.policy,
    requested: draft.routing.requested,
    idempotencyKey: draft.idempotencyKey,
  });
}

/** Content read back as JSON text: parsed and deep-frozen, so no reader can change stored history through it. */
export function parseContent(json: string): JsonValue {
  return deepFreeze(JSON.parse(json) as JsonValue);
}
