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

/** Default `maxContentDepth`: how many arrays and objects inside one another content may have. */
export const DEFAULT_MAX_CONTENT_DEPTH = 64;
/** The largest `maxContentDepth` a bus takes: the copy recurses once per level, and this stays far from any stack limit. */
export const MAX_CONTENT_DEPTH_LIMIT = 1000;

/**
 * `true` when `value` has arrays and objects inside one another more than
 * `maxDepth` levels deep: the depth rule of `maxContentDepth`, for code that
 * must refuse deep JSON before passing it on (the edge worker checks request
 * bodies before its RPC to the room). `"x"` has depth 0, `[]` and `{}` 1,
 * `[{"a":[1]}]` 3. It keeps its own stack instead of recursing and stops at the
 * first level past `maxDepth`, so no input overflows it, a cycle included.
 * Meant for JSON data (what `JSON.parse` returns): it reads every property.
 *
 * @example
 * ```ts
 * const body = JSON.parse(text);
 * if (exceedsContentDepth(body.content)) throw new MessageBusError('INVALID_MESSAGE', 'content is nested too deeply');
 * ```
 */
export function exceedsContentDepth(value: unknown, maxDepth: number = DEFAULT_MAX_CONTENT_DEPTH): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const pending: object[] = [value];
  const depths: number[] = [1];
  while (pending.length > 0) {
    const node = pending.pop() as object;
    const depth = depths.pop() as number;
    if (depth > maxDepth) return true;
    for (const child of Object.values(node)) {
      if (typeof child === 'object' && child !== null) {
        pending.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}

/**
 * What the walk in progress has counted towards its bound on the JSON text's UTF-8 bytes (see
 * `copyContentWithin`): one number added to as the walk goes, so the walk returns only the copy.
 */
let jsonBound = 0;
/** More than the longest text `String(number)` gives a finite number (25 characters: `-0.0000012345678901234567`). */
const NUMBER_BOUND = 32;

/** Quotes, and each UTF-16 unit at most `\uXXXX` (an escape) or 3 UTF-8 bytes. */
function stringBound(text: string): number {
  return 2 + 6 * text.length;
}

/**
 * Checks message content in one walk and returns a frozen deep copy of it with
 * its JSON text. Anything `JSON.parse(JSON.stringify(x))` would not give back
 * unchanged is refused (undefined, functions, NaN, Infinity, class instances,
 * cycles, more than `maxDepth` levels), so what is stored is exactly what every
 * backend would read back. The copy is made of plain objects and arrays, as
 * `JSON.parse` makes them: an own `__proto__` key stays an own key. Content is
 * read exactly once, so a caller who changes its object after sending cannot
 * change stored history, and a getter or Proxy trap that throws is
 * `INVALID_MESSAGE`, like any other content that is not JSON.
 */
export function copyContent(
  content: unknown,
  maxDepth: number = DEFAULT_MAX_CONTENT_DEPTH,
  what = 'content',
): { copy: JsonValue; json: string } {
  const outer = jsonBound;
  let copy: JsonValue;
  try {
    copy = frozenCopy(content, maxDepth, what);
  } finally {
    jsonBound = outer; // this walk's count is not wanted: leave the one in progress (if any) as it was
  }
  return { copy, json: JSON.stringify(copy) };
}

/**
 * `copyContent` and `assertJsonSize` in one, making the JSON text only when
 * the size check needs it: the walk adds up a bound on the text's UTF-8 size
 * (every UTF-16 unit of a string at most 6 bytes, as `\uXXXX`; a number at
 * most 25), and content under `limit` by that bound is not stringified here.
 * `json` is the text when it was made, else `undefined` (make it from `copy`).
 */
export function copyContentWithin(
  content: unknown,
  maxDepth: number,
  limit: number,
  what: string,
): { copy: JsonValue; json: string | undefined } {
  // Saved and restored: a getter in the content may send a message of its own, which walks its content in between.
  const outer = jsonBound;
  jsonBound = 0;
  let copy: JsonValue;
  let bound: number;
  try {
    copy = frozenCopy(content, maxDepth, what);
    bound = jsonBound;
  } finally {
    jsonBound = outer;
  }
  if (bound <= limit) return { copy, json: undefined };
  const json = JSON.stringify(copy);
  assertJsonSize(json, limit, what);
  return { copy, json };
}

/** The walk of `copyContent`: the frozen copy, or the typed error of the first value that is not JSON. */
function frozenCopy(content: unknown, maxDepth: number, what: string): JsonValue {
  // Strings are immutable: the common case needs no walk.
  if (typeof content === 'string') {
    jsonBound += stringBound(content);
    return content;
  }
  try {
    return copyJson(content, 0, maxDepth);
  } catch (error) {
    if (error instanceof ContentProblem) throw new MessageBusError('INVALID_MESSAGE', error.message(what));
    throw new MessageBusError('INVALID_MESSAGE', `${what} could not be read as JSON: ${reasonOf(error)}`, { cause: error });
  }
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

/** UTF-8 byte length of a string, without allocating an encoder per call. A lone surrogate counts 3, as `TextEncoder` writes U+FFFD. */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 2; // a surrogate pair is 4 bytes for 2 UTF-16 units
      i++;
    } else bytes += 2;
  }
  return bytes;
}

/** `true` unless `text` holds a lone surrogate (which UTF-8, Redis and SQLite text cannot carry). */
export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/**
 * Reads a list of ids exactly once and checks it: an array of at most `max`
 * ids that pass `isValid` (`limitName` names the option that sets `max`). What it returns is a new array, so a caller who changes its own
 * list after the call changes nothing. Anything else, a throwing iterator,
 * getter or Proxy trap included, is a `code` error naming `what`.
 */
export function snapshotIds(
  value: unknown,
  what: string,
  max: number,
  code: 'INVALID_MESSAGE' | 'INVALID_ARGUMENT',
  limitName?: string,
  isValid: (id: unknown) => id is string = isValidId,
): string[] {
  let ids: string[] = [];
  let count = 0;
  try {
    if (!Array.isArray(value)) throw new MessageBusError(code, `${idsShape(what, max)}; got ${describe(value)}`);
    // Sized up front (an empty array's first push reserves 16 slots): the length is a hint, the iterator decides.
    const expected = (value as unknown[]).length;
    if (expected > 0 && expected <= max) ids = new Array(expected);
    for (const id of value as unknown[]) {
      if (count === max)
        throw new MessageBusError(code, `${idsShape(what, max)}; got more than ${max}${limitName ? ` (the ${limitName} limit)` : ''}`, {
          details: { limit: max },
        });
      if (!isValid(id)) throw new MessageBusError(code, `${idsShape(what, max)}; ${what}[${count}] is ${describe(id)}`);
      if (count < ids.length) ids[count] = id;
      else ids.push(id);
      count++;
    }
  } catch (error) {
    if (MessageBusError.is(error)) throw error;
    throw new MessageBusError(code, `${what} could not be read: ${reasonOf(error)}`, { cause: error });
  }
  if (count < ids.length) ids.length = count;
  return ids;
}

/** The rule `snapshotIds` states in its errors; built only for an error (a template per call allocates on every send). */
function idsShape(what: string, max: number): string {
  return `${what} must be an array of at most ${max} ids (letters, digits and "._:-")`;
}

// Lone high surrogate, or lone low surrogate.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/**
 * A value content must not hold, found `keys` deep (innermost last is outermost first: each level adds its key on
 * the way out). The path text is built only then, never on a send that passes.
 */
class ContentProblem {
  readonly keys: (string | number)[] = [];
  constructor(readonly problem: string) {}

  message(what: string): string {
    let path = '$';
    for (let i = this.keys.length - 1; i >= 0; i--) {
      const key = this.keys[i] as string | number;
      path += typeof key === 'number' ? `[${key}]` : `.${key}`;
    }
    return `${what} must be a JSON value: ${path} is ${this.problem}`;
  }
}

function copyJson(value: unknown, depth: number, maxDepth: number): JsonValue {
  switch (typeof value) {
    case 'string':
      jsonBound += stringBound(value);
      return value;
    case 'boolean':
      jsonBound += 5;
      return value;
    case 'number':
      jsonBound += NUMBER_BOUND;
      if (Number.isFinite(value)) return value;
      throw new ContentProblem(String(value));
    case 'object': {
      if (value === null) {
        jsonBound += 4;
        return null;
      }
      // The same rule as exceedsContentDepth: the top container is level 1.
      if (depth >= maxDepth) throw new ContentProblem(`circular or nested deeper than ${maxDepth} levels (maxContentDepth)`);
      if (Array.isArray(value)) {
        const length = value.length;
        jsonBound += 2 + length; // brackets and commas
        const out: JsonValue[] = new Array(length);
        let i = 0;
        try {
          for (; i < length; i++) out[i] = copyJson(value[i], depth + 1, maxDepth);
        } catch (error) {
          if (error instanceof ContentProblem) error.keys.push(i);
          throw error;
        }
        return Object.freeze(out) as JsonValue[];
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw new ContentProblem(`a ${proto?.constructor?.name ?? 'non-plain'} object`);
      const out: { [key: string]: JsonValue } = {};
      let key = '';
      try {
        jsonBound += 2; // braces
        for (key of Object.keys(value)) {
          jsonBound += stringBound(key) + 2; // the key, its colon and a comma
          const child = copyJson((value as Record<string, unknown>)[key], depth + 1, maxDepth);
          // Assigning out.__proto__ would set the copy's prototype and drop the key; JSON.parse keeps it as an own key.
          if (key === '__proto__') Object.defineProperty(out, key, { value: child, enumerable: true, writable: true, configurable: true });
          else out[key] = child;
        }
      } catch (error) {
        if (error instanceof ContentProblem) error.keys.push(key);
        throw error;
      }
      return Object.freeze(out);
    }
    default:
      throw new ContentProblem(typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`);
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

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  return typeof value;
}
