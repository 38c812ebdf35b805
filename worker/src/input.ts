/**
 * What the worker checks in a request before anything reaches a room object:
 * the shape and depth of every value an RPC would carry (a value nested
 * thousands of levels deep overflows the RPC's structured clone and would come
 * back as a retryable 503), and one rule for numbers. The HTTP routes and the
 * WebSocket frames both read their input through these functions, so the two
 * paths answer the same input with the same typed 400.
 */

import { exceedsDepth } from './content-depth.js';
import type { ErrorBody, FrameRef, JsonValue, Outcome, SendInput } from './contract.js';
import { fail } from './errors.js';
import { refuseGroupCount } from './group-grant.js';

const ok = <T>(value: T): Outcome<T> => ({ ok: true, value });
const refused = (error: ErrorBody): Outcome<never> => ({ ok: false, error });

/** Decimal digits only: no sign, space, hex, exponent or fraction, and not empty. */
const DECIMAL = /^[0-9]+$/;

/** `after` or `limit` of a URL: absent, or decimal digits that make a safe integer (`"0x2"`, `" 1"`, `"1e3"`, `""` are refused). */
export function readDecimal(raw: string | undefined | null, name: string): Outcome<number | undefined> {
  if (raw === undefined || raw === null) return ok(undefined);
  const value = DECIMAL.test(raw) ? Number(raw) : Number.NaN;
  if (Number.isSafeInteger(value)) return ok(value);
  return refused(fail('INVALID_ARGUMENT', `${name} must be a non-negative integer in decimal digits; got ${quote(raw)}`));
}

/** `upTo` of an ack: a JSON number that is a non-negative safe integer (a string, even of digits, is refused). */
export function readUpTo(value: unknown): Outcome<number> {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return ok(value);
  return refused(fail('INVALID_ARGUMENT', 'upTo must be a non-negative integer message id, as a JSON number'));
}

/** The `content`, `recipients`, `idempotencyKey`, `inReplyTo` and `metadata` of a send, from an HTTP body or a `send` frame. */
export function readSendInput(body: Record<string, unknown>, maxContentDepth: number): Outcome<SendInput> {
  const { content, recipients, idempotencyKey, inReplyTo, metadata } = body;
  if (content === undefined) return refused(fail('INVALID_MESSAGE', 'a send needs "content": any JSON value'));
  if (exceedsDepth(content, maxContentDepth)) {
    return refused(fail('INVALID_MESSAGE', `content nests arrays and objects deeper than ${maxContentDepth} levels (MAX_CONTENT_DEPTH)`));
  }
  if (recipients !== undefined && !isStringArray(recipients)) {
    return refused(fail('INVALID_MESSAGE', 'recipients must be an array of agent ids or group names (strings)'));
  }
  if (idempotencyKey !== undefined && typeof idempotencyKey !== 'string') {
    return refused(fail('INVALID_MESSAGE', 'idempotencyKey must be a string'));
  }
  // The bus judges the values (a positive integer; a plain object within MAX_METADATA_BYTES); only the shapes an RPC
  // must not carry are refused here, with the codes the bus would give.
  if (inReplyTo !== undefined && typeof inReplyTo !== 'number') {
    return refused(fail('INVALID_ARGUMENT', 'inReplyTo must be the id of an earlier message: a positive integer'));
  }
  if (metadata !== undefined && exceedsDepth(metadata, maxContentDepth)) {
    return refused(fail('INVALID_MESSAGE', `metadata nests arrays and objects deeper than ${maxContentDepth} levels (MAX_CONTENT_DEPTH)`));
  }
  const input: SendInput = { content: content as JsonValue };
  if (recipients !== undefined) input.recipients = recipients;
  if (idempotencyKey !== undefined) input.idempotencyKey = idempotencyKey;
  if (inReplyTo !== undefined) input.inReplyTo = inReplyTo;
  if (metadata !== undefined) input.metadata = metadata as NonNullable<SendInput['metadata']>;
  return ok(input);
}

/** `groups` of a connect: absent, or an array of strings naming at most `maxGroups` distinct groups. */
export function readGroups(value: unknown, maxGroups: number): Outcome<string[] | undefined> {
  if (value === undefined) return ok(undefined);
  if (!isStringArray(value)) return refused(fail('INVALID_ARGUMENT', 'groups must be an array of group names (strings)'));
  const tooMany = refuseGroupCount(value, maxGroups);
  return tooMany ? refused(tooMany) : ok(value);
}

/** `routing` of `PUT /v1/rooms/:room`: a policy name (which names exist, the room object knows). */
export function readRouting(value: unknown): Outcome<string> {
  if (typeof value === 'string') return ok(value);
  return refused(fail('INVALID_ARGUMENT', 'routing must be the name of a routing policy, e.g. "broadcast"'));
}

/** A frame's `ref`, echoed in its answer: a string of at most 128 characters or a finite number; anything else is unusable. */
export function readRef(value: unknown): { usable: true; ref: FrameRef } | { usable: false } {
  if (value === undefined || value === null) return { usable: true, ref: null };
  if ((typeof value === 'string' && value.length <= 128) || (typeof value === 'number' && Number.isFinite(value))) {
    return { usable: true, ref: value };
  }
  return { usable: false };
}

// --- internal helpers ---

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function quote(raw: string): string {
  return JSON.stringify(raw.length > 40 ? `${raw.slice(0, 40)}…` : raw);
}
