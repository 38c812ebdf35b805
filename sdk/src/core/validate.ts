import { MessageBusError } from './errors.js';
import type { JsonValue } from './types.js';

/** Room ids, agent ids and group names: they end up in file names, Redis keys and URLs. */
const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** `true` when `value` is a valid room id, agent id or group name. */
export function isValidId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
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

/**
 * Serialises message content, refusing anything `JSON.parse(JSON.stringify(x))`
 * would not give back unchanged (undefined, functions, NaN, Infinity, class
 * instances, cycles). Returns the JSON text, whose UTF-8 size the caller limits.
 */
export function serialiseContent(content: unknown): string {
  if (typeof content === 'string') return JSON.stringify(content);
  const problem = findNonJson(content, '$', new Set());
  if (problem) throw new MessageBusError('INVALID_MESSAGE', `content must be a JSON value: ${problem}`);
  return JSON.stringify(content);
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

function findNonJson(value: unknown, path: string, seen: Set<object>): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${path} is ${value}`;
    case 'object': {
      if (value === null) return undefined;
      if (seen.has(value)) return `${path} is a circular reference`;
      seen.add(value);
      try {
        if (Array.isArray(value)) {
          for (let i = 0; i < value.length; i++) {
            const problem = findNonJson(value[i], `${path}[${i}]`, seen);
            if (problem) return problem;
          }
          return undefined;
        }
        const proto = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) return `${path} is a ${proto?.constructor?.name ?? 'non-plain'} object`;
        for (const key of Object.keys(value)) {
          const problem = findNonJson((value as Record<string, unknown>)[key], `${path}.${key}`, seen);
          if (problem) return problem;
        }
        return undefined;
      } finally {
        seen.delete(value);
      }
    }
    default:
      return `${path} is ${typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`}`;
  }
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
