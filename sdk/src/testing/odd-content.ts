/**
 * Content that is valid JSON but easy to get wrong: keys that are also names on
 * `Object.prototype` (`__proto__`, `constructor`, `toString`), the empty key,
 * NUL, lone surrogates (which `JSON.stringify` escapes and UTF-8 cannot carry
 * raw), and line separators. Every backend and every transport must give each
 * value back exactly as `JSON.parse(JSON.stringify(value))` would: plain
 * objects, with an own `__proto__` key kept as a key.
 */
import type { MessageBus } from '../core/bus.js';
import { Message } from '../core/message.js';
import type { JsonValue } from '../core/types.js';
import { ConformanceError } from './harness.js';

/** One case: a name for failure messages and the JSON text (so `__proto__` is an own key, as `JSON.parse` makes it). */
export interface OddContentCase {
  name: string;
  json: string;
}

/** The corpus as JSON texts. Escapes such as `\ud800` are JSON escapes, decoded by `JSON.parse`. */
export const ODD_CONTENT_CASES: readonly OddContentCase[] = Object.freeze([
  { name: 'an own __proto__ key', json: '{"__proto__":{"polluted":true},"x":1}' },
  {
    name: 'nested __proto__ keys, one holding null',
    json: '{"__proto__":{"__proto__":{"deep":1}},"list":[{"__proto__":null},{"__proto__":[]}]}',
  },
  {
    name: 'Object.prototype names as keys',
    json: '{"constructor":{"prototype":{"polluted":true}},"toString":"not a function","valueOf":1,"hasOwnProperty":null,"__defineGetter__":[],"prototype":{}}',
  },
  { name: 'the empty key and NUL', json: '{"":"empty key","\\u0000":"nul key","a\\u0000b":"\\u0000"}' },
  {
    name: 'lone surrogates in keys and values',
    json: '{"\\ud800":"\\udfff","\\udc00\\ud800":["\\ud83d","\\ude00x","x\\udbff"],"pair \\ud83d\\ude00":"\\ud83d\\ude00"}',
  },
  { name: 'a lone surrogate string alone', json: '"\\udbff"' },
  { name: 'line and paragraph separators', json: '{"\\u2028":"\\u2029","text":"a\\u2028b"}' },
  { name: 'integer-like keys (JSON orders them first)', json: '{"b":1,"1":2,"a":3,"0":4,"-1":5}' },
  { name: '"__proto__" as a value', json: '["__proto__",{"k":"__proto__"}]' },
]);

/** The corpus as values: parsed afresh on each call, so callers may send them without sharing objects. */
export function oddContent(): { name: string; value: unknown }[] {
  return ODD_CONTENT_CASES.map(({ name, json }) => ({ name, value: JSON.parse(json) }));
}

/**
 * `null` when `actual` is exactly `expected` as JSON gives it back: the same
 * strings (code unit for code unit), numbers, keys in the same order, and plain
 * objects (prototype `Object.prototype`); otherwise where and how they differ.
 */
export function contentMismatch(actual: unknown, expected: unknown, path = '$'): string | null {
  if (typeof expected !== 'object' || expected === null) {
    return Object.is(actual, expected) ? null : `${path}: expected ${show(expected)}, got ${show(actual)}`;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${path}: expected an array, got ${show(actual)}`;
    if (actual.length !== expected.length) return `${path}: expected ${expected.length} items, got ${actual.length}`;
    for (let i = 0; i < expected.length; i++) {
      const problem = contentMismatch(actual[i], expected[i], `${path}[${i}]`);
      if (problem) return problem;
    }
    return null;
  }
  if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return `${path}: expected an object, got ${show(actual)}`;
  if (Object.getPrototypeOf(actual) !== Object.prototype) return `${path}: expected a plain object, as JSON.parse makes it`;
  const keys = Object.keys(actual);
  const expectedKeys = Object.keys(expected);
  if (show(keys) !== show(expectedKeys)) return `${path}: expected the keys ${show(expectedKeys)}, got ${show(keys)}`;
  for (const key of expectedKeys) {
    const problem = contentMismatch(
      (actual as Record<string, unknown>)[key],
      (expected as Record<string, unknown>)[key],
      `${path}[${show(key)}]`,
    );
    if (problem) return problem;
  }
  return null;
}

/**
 * The storage suite's check: sends every case from `a` to `b` on a broadcast
 * bus, then compares what `sendMessage` returned, what `b` fetches and what
 * `other` (a second bus over the same store) reads from history.
 */
export async function checkOddContentRoundTrip(bus: MessageBus, other: MessageBus): Promise<void> {
  const cases = oddContent();
  const sent = [];
  for (const { value } of cases) sent.push(await bus.sendMessage(new Message('a', value as JsonValue)));
  const fetched = await bus.fetchMessages('b', 0, { limit: cases.length });
  const history = await other.history(0, { limit: cases.length });
  const expected = oddContent();
  for (const [i, { name, value }] of expected.entries()) {
    for (const [how, messages] of [
      ['returned by sendMessage', sent],
      ['fetched', fetched],
      ['read back by another bus', history],
    ] as const) {
      const problem = contentMismatch(messages[i]?.content, value);
      if (problem) throw new ConformanceError(`${name}, ${how}: ${problem}`);
    }
  }
  if ('polluted' in {}) throw new ConformanceError('Object.prototype was polluted by a __proto__ key');
}

// --- internal helpers ---

/** JSON text, which escapes lone surrogates and NUL, so a failure message shows exactly which code units differ. */
function show(value: unknown): string {
  return value === undefined ? 'undefined' : JSON.stringify(value);
}
