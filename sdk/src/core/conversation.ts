/**
 * The checks on what a message carries in a conversation: the message it
 * answers (`inReplyTo`) and its `metadata`. The bus checks their shape here;
 * whether the sender had seen the message it answers is the backend's check,
 * made atomically with the append.
 */
import { MessageBusError } from './errors.js';
import type { MessageMetadata } from './types.js';
import { assertJsonSize, copyContent } from './validate.js';

/** Default `maxMetadataBytes`: 4 KiB of UTF-8 JSON. */
export const DEFAULT_MAX_METADATA_BYTES = 4 * 1024;

/** Throws `INVALID_ARGUMENT` unless `value` is absent or a positive safe integer (a message id). */
export function checkInReplyTo(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new MessageBusError('INVALID_ARGUMENT', 'inReplyTo must be the id of an earlier message: a positive integer');
  }
  return value;
}

/**
 * Checks metadata and returns a frozen deep copy with its JSON text, or
 * `undefined` when absent. It must be a plain JSON object (`INVALID_MESSAGE`
 * otherwise: `null`, arrays, strings...) of at most `limit` UTF-8 bytes of
 * JSON (`CONTENT_TOO_LARGE`, with `details: { limit, size }`).
 */
export function copyMetadata(value: unknown, limit: number, maxDepth: number): { copy: MessageMetadata; json: string } | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    throw new MessageBusError('INVALID_MESSAGE', `metadata must be a plain JSON object such as { "kind": "tool_call" }; got ${got}`);
  }
  const { copy, json } = copyContent(value, maxDepth, 'metadata');
  assertJsonSize(json, limit, 'metadata');
  return { copy: copy as MessageMetadata, json };
}
