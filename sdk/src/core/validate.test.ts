import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../test/support/seeded-random.js';
import { copyContent, copyContentWithin, utf8Length } from './validate.js';

/** Strings whose JSON is as long as it gets per unit: escapes, lone surrogates, 3- and 4-byte characters. */
const PIECES = ['a', '"', '\\', '\n', '\u0001', '\u001f', '\u007f', 'é', '€', '😀', '\ud800', '\udfff', '\u2028'];
const NUMBERS = [0, -0, 1, -1.5, 1e21, -1.2345678901234568e21, -0.0000012345678901234567, -2.2250738585072014e-308, 5e-324, 123456789];

function randomContent(random: () => number, depth: number): unknown {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const text = () => Array.from({ length: Math.floor(random() * 6) }, () => pick(PIECES)).join('');
  const kind = depth > 3 ? Math.floor(random() * 4) : Math.floor(random() * 6);
  if (kind === 0) return text();
  if (kind === 1) return pick(NUMBERS);
  if (kind === 2) return pick([true, false, null]);
  if (kind === 3) return random() < 0.5 ? [] : {};
  if (kind === 4) return Array.from({ length: Math.floor(random() * 4) }, () => randomContent(random, depth + 1));
  return Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, () => [text(), randomContent(random, depth + 1)]));
}

describe('copyContentWithin', () => {
  it('passes content of exactly the limit and refuses one byte less, for content whose JSON escapes a lot', () => {
    const random = mulberry32(7);
    for (let run = 0; run < 500; run++) {
      const content = randomContent(random, 0);
      const size = utf8Length(JSON.stringify(content));
      const within = copyContentWithin(content, 64, size, 'content');
      expect(within.copy).toEqual(content);
      // The text is either made (and right) or left to be made from the copy.
      expect(within.json ?? JSON.stringify(within.copy)).toBe(JSON.stringify(content));
      if (size > 1) {
        expect(() => copyContentWithin(content, 64, size - 1, 'content')).toThrow(
          expect.objectContaining({ code: 'CONTENT_TOO_LARGE', details: { limit: size - 1, size } }),
        );
      }
    }
  });

  it('refuses what copyContent refuses, with the same message', () => {
    const bad: unknown[] = [{ a: [1, Number.NaN] }, { b: { c: undefined } }, [new Date(0)], { f: () => 1 }];
    for (const content of bad) {
      const expected = (() => {
        try {
          copyContent(content);
        } catch (error) {
          return error;
        }
      })();
      expect(expected).toMatchObject({ code: 'INVALID_MESSAGE' });
      expect(() => copyContentWithin(content, 64, 1 << 16, 'content')).toThrow((expected as Error).message);
    }
    expect(() => copyContentWithin({ a: [1, Number.NaN] }, 64, 1 << 16, 'content')).toThrow('content must be a JSON value: $.a[1] is NaN');
  });

  it('counts a walk inside a getter of the content on its own, not into the walk around it', () => {
    let inner: ReturnType<typeof copyContentWithin> | undefined;
    // Most of the size comes before the getter, whose own walk must not reset what the outer walk counted.
    const content = {
      a: 'x'.repeat(100),
      get b() {
        inner = copyContentWithin('small', 64, 100, 'content');
        return 1;
      },
    };
    const size = JSON.stringify({ a: 'x'.repeat(100), b: 1 }).length;
    expect(() => copyContentWithin(content, 64, size - 1, 'content')).toThrow(
      expect.objectContaining({ code: 'CONTENT_TOO_LARGE', details: { limit: size - 1, size } }),
    );
    expect(inner?.json).toBeUndefined();
    expect(copyContentWithin(content, 64, size, 'content').copy).toEqual({ a: 'x'.repeat(100), b: 1 });
  });
});
