import { MessageBusError } from './errors.js';
import type { JsonValue } from './types.js';

/** Room ids, agent ids and group names: they end up in file names, Redis keys and URLs. */
const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** `true` when `value` is a valid room id, agent id or group name. */
export function isValidId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/** `true` when `value` is an id, or `#` and a group name (how `AddressedRoutingPolicy` names a group): `#` is outside the id alphabet. */
export function isValidRecipient(value: unknown): value is string {
  return isValidId(value) || (typeof value === 'string' && value.startsWith('#') && ID_PATTERN.test(value.slice(1)));
}

/** Throws `INVALID_ARGUMENT` unless `value` is a valid id. `what` names it in the message. */
export function assertId(value: unknown, what: string): asserts value is string {
  if (!isValidId(value)) {
    throw new MessageBusError('INVALID_ARGUMENT', `${what} must be 1-128 characters of letters, digits and "._:-"; got ${describe(value)}`);
  }
}

/** Throws `INVALID_ARGUMENT` unless `value` is a non-negative safe integer (a message id or cursor). */
export function assertCursor(value: unknown, what: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new MessageBusError('INVALID_ARGUMENT', `${what} must be a non-negative integer message id; got ${describe(value)}`);
  }
}

/** Resolves a fetch limit: `undefined` gives `fallback`; anything but an integer in 1..max is `INVALID_ARGUMENT`. */
export function resolveLimit(value: unknown, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new MessageBusError('INVALID_ARGUMENT', `limit must be an integer from 1 to ${max}; got ${describe(value)}`);
  }
  return value;
}

/** Deeper than this is refused (and is how a circular structure shows itself without tracking every object). */
const MAX_DEPTH = 1000;

/**
 * Checks message content in one walk and returns a frozen deep copy of it with
 * its JSON text. Anything `JSON.parse(JSON.stringify(x))` would not give back
 * unchanged is refused (undefined, functions, NaN, Infinity, class instances,
 * cycles), so what is stored is exactly what every backend would read back.
 * The copy means a caller who changes its object after sending cannot change
 * stored history.
 */
export function copyContent(content: unknown, what = 'content'): { copy: JsonValue; json: string } {
  // Strings are immutable: the common case costs one JSON.stringify.
  if (typeof content === 'string') return { copy: content, json: JSON.stringify(content) };
  const copy = copyJson(content, '$', 0, what);
  return { copy, json: JSON.stringify(copy) };
}

/** Throws `CONTENT_TOO_LARGE` (with `details: { limit, size }`) when `json` is over `limit` UTF-8 bytes. `what` names it. */
export function assertJsonSize(json: string, limit: number, what: string): void {
  // A string of n UTF-16 units is at most 3n UTF-8 bytes: skip the exact count when it cannot matter.
  if (json.length * 3 <= limit) return;
  const size = utf8Length(json);
  if (size > limit) {
    throw new MessageBusError('CONTENT_TOO_LARGE', `${what} is ${size} bytes of JSON; the limit is ${limit}`, { details: { limit, size } });
  }
}

/** UTF-8 byte length of a string, without allocating an encoder per call. */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      bytes += 2; // a surrogate pair is 4 bytes for 2 UTF-16 units
      i++;
    } else bytes += 2;
  }
  return bytes;
}

function copyJson(value: unknown, path: string, depth: number, what: string): JsonValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isFinite(value)) return value;
      throw invalidContent(what, `${path} is ${value}`);
    case 'object': {
      if (value === null) return null;
      if (depth >= MAX_DEPTH) throw invalidContent(what, `${path} is circular or nested deeper than ${MAX_DEPTH} levels`);
      if (Array.isArray(value)) {
        const out: JsonValue[] = new Array(value.length);
        for (let i = 0; i < value.length; i++) out[i] = copyJson(value[i], `${path}[${i}]`, depth + 1, what);
        return Object.freeze(out) as JsonValue[];
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null)
        throw invalidContent(what, `${path} is a ${proto?.constructor?.name ?? 'non-plain'} object`);
      const out: { [key: string]: JsonValue } = {};
      for (const key of Object.keys(value)) out[key] = copyJson((value as Record<string, unknown>)[key], `${path}.${key}`, depth + 1, what);
      return Object.freeze(out);
    }
    default:
      throw invalidContent(what, `${path} is ${typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`}`);
  }
}

function invalidContent(what: string, problem: string): MessageBusError {
  return new MessageBusError('INVALID_MESSAGE', `${what} must be a JSON value: ${problem}`);
}

/** Deep-freezes a JSON value so a stored message cannot be changed through a reference. */
export function deepFreeze<T extends JsonValue>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child as JsonValue);
    Object.freeze(value);
  }
  return value;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  return typeof value;
}
