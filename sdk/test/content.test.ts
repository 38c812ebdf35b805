import { describe, expect, it } from 'vitest';
import { InMemoryStorageBackend } from '../src/backends/memory/index.js';
import { utf8Length } from '../src/core/validate.js';
import { DEFAULT_MAX_CONTENT_DEPTH, exceedsContentDepth, type JsonValue, Message, MessageBus, MessageBusError } from '../src/index.js';
import { BroadcastRoutingPolicy } from '../src/routing-policies/index.js';

describe('stored content', () => {
  it('is a frozen copy: changing the sent object, or a fetched one, never changes history', async () => {
    const bus = new MessageBus(new InMemoryStorageBackend(), new BroadcastRoutingPolicy(), { logLevel: 'silent' });
    await bus.connectAgent('a');
    await bus.connectAgent('b');
    const content = { text: 'original', tags: ['x'], nested: { n: 1 } };
    const sent = await bus.sendMessage(new Message('a', content));
    content.text = 'changed';
    content.tags.push('y');
    content.nested.n = 2;
    const [fetched] = await bus.fetchMessages('b');
    if (!fetched) throw new Error('nothing fetched');
    const stored = fetched.content as { text: string; tags: string[] };
    expect(stored).toEqual({ text: 'original', tags: ['x'], nested: { n: 1 } });
    expect(sent.content).toEqual(stored);
    expect(Object.isFrozen(fetched)).toBe(true);
    expect(Object.isFrozen(stored.tags)).toBe(true);
    expect(() => {
      stored.text = 'mutated';
    }).toThrow(TypeError);
  });

  it('keeps an own __proto__ key as a key, on a plain object, and leaves the prototype alone', async () => {
    const bus = new MessageBus(new InMemoryStorageBackend(), new BroadcastRoutingPolicy(), { logLevel: 'silent' });
    await bus.connectAgent('a');
    await bus.connectAgent('b');
    const json = '{"__proto__":{"polluted":true,"list":[1]},"x":1}';
    const sent = await bus.sendMessage(new Message('a', JSON.parse(json)));
    const [fetched] = await bus.fetchMessages('b');
    for (const content of [sent.content, fetched?.content] as Record<string, unknown>[]) {
      expect(Object.getPrototypeOf(content)).toBe(Object.prototype);
      expect(Object.keys(content)).toEqual(['__proto__', 'x']);
      expect(Object.getOwnPropertyDescriptor(content, '__proto__')?.value).toEqual({ polluted: true, list: [1] });
      expect(JSON.stringify(content)).toBe(json);
      expect(Object.isFrozen(content)).toBe(true);
      expect(content.polluted).toBeUndefined();
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('copies a null-prototype object into a plain one, as JSON would', async () => {
    const bus = new MessageBus(new InMemoryStorageBackend(), new BroadcastRoutingPolicy(), { logLevel: 'silent' });
    await bus.connectAgent('a');
    const bare = Object.assign(Object.create(null), { k: 'v' });
    const sent = await bus.sendMessage(new Message('a', bare));
    expect(Object.getPrototypeOf(sent.content)).toBe(Object.prototype);
    expect(sent.content).toEqual({ k: 'v' });
  });
});

/** `levels` arrays inside one another around a string. */
function nestedArrays(levels: number): JsonValue {
  let value: JsonValue = 'leaf';
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}

/** `levels` objects inside one another, as a JSON text would build them. */
function nestedObjects(levels: number): JsonValue {
  return JSON.parse(`${'{"k":'.repeat(levels)}1${'}'.repeat(levels)}`);
}

describe('maxContentDepth', () => {
  it('defaults to 64 levels: 64 are stored, 65 are INVALID_MESSAGE and store nothing', async () => {
    expect(DEFAULT_MAX_CONTENT_DEPTH).toBe(64);
    const bus = new MessageBus(new InMemoryStorageBackend(), new BroadcastRoutingPolicy(), { logLevel: 'silent' });
    await bus.connectAgent('a');
    for (const nested of [nestedArrays, nestedObjects]) {
      await expect(bus.sendMessage(new Message('a', nested(65)))).rejects.toMatchObject({ code: 'INVALID_MESSAGE' });
      const sent = await bus.sendMessage(new Message('a', nested(64)));
      expect(JSON.stringify(sent.content)).toBe(JSON.stringify(nested(64)));
    }
    expect((await bus.history()).map((m) => m.id)).toEqual([1, 2]);
  });

  it('refuses 5,000 and 100,000 levels with INVALID_MESSAGE, never a stack overflow or STORAGE_FAILURE', async () => {
    const bus = new MessageBus(new InMemoryStorageBackend(), new BroadcastRoutingPolicy(), { logLevel: 'silent' });
    await bus.connectAgent('a');
    for (const levels of [5_000, 100_000]) {
      for (const nested of [nestedArrays, nestedObjects]) {
        const error = await bus.sendMessage(new Message('a', nested(levels))).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(MessageBusError);
        expect((error as MessageBusError).code).toBe('INVALID_MESSAGE');
        expect((error as MessageBusError).message).toContain('maxContentDepth');
      }
    }
    expect(await bus.history()).toEqual([]);
  });

  it('is an option, and the exported exceedsContentDepth draws the same line', async () => {
    const bus = new MessageBus(new InMemoryStorageBackend(), new BroadcastRoutingPolicy(), { logLevel: 'silent', maxContentDepth: 3 });
    await bus.connectAgent('a');
    const samples: JsonValue[] = ['x', 1, null, [], {}, [[[1]]], [[[[1]]]], { a: [{ b: 1 }] }, { a: [{ b: [] }] }, [1, [2, [3]], 4]];
    for (const content of samples) {
      const refused = await bus.sendMessage(new Message('a', content)).then(
        () => false,
        (e: MessageBusError) => e.code === 'INVALID_MESSAGE',
      );
      expect(refused, JSON.stringify(content)).toBe(exceedsContentDepth(content, 3));
    }
    expect(exceedsContentDepth([[[1]]], 3)).toBe(false);
    expect(exceedsContentDepth([[[[1]]]], 3)).toBe(true);
    expect(exceedsContentDepth(nestedObjects(64))).toBe(false);
    expect(exceedsContentDepth(nestedObjects(65))).toBe(true);
  });

  it('exceedsContentDepth survives any depth and a cycle', () => {
    expect(exceedsContentDepth(nestedArrays(200_000))).toBe(true);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(exceedsContentDepth(cyclic, 10)).toBe(true);
    // Wide but shallow is fine.
    expect(
      exceedsContentDepth(
        Array.from({ length: 10_000 }, (_, i) => ({ i })),
        2,
      ),
    ).toBe(false);
  });

  it('must be an integer from 1 to 1000', () => {
    for (const maxContentDepth of [0, -1, 1.5, 1001, Number.NaN]) {
      expect(() => new MessageBus(new InMemoryStorageBackend(), new BroadcastRoutingPolicy(), { maxContentDepth })).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      );
    }
  });
});

describe('content size with lone surrogates', () => {
  it('counts the escaped JSON, as every backend stores it', async () => {
    const bus = new MessageBus(new InMemoryStorageBackend(), new BroadcastRoutingPolicy(), { logLevel: 'silent', maxContentBytes: 100 });
    await bus.connectAgent('a');
    // JSON.stringify writes each lone surrogate as a 6-byte escape: 2 + 16 * 6 = 98 bytes, 17 make 104.
    expect((await bus.sendMessage(new Message('a', '\ud800'.repeat(16)))).content).toBe('\ud800'.repeat(16));
    await expect(bus.sendMessage(new Message('a', '\ud800'.repeat(17)))).rejects.toMatchObject({
      code: 'CONTENT_TOO_LARGE',
      details: { limit: 100, size: 104 },
    });
  });

  it('utf8Length matches TextEncoder, lone surrogates included', () => {
    const encoder = new TextEncoder();
    for (const text of ['', 'abc', 'é€😀', '\ud800', '\udc00', '\ud800€', '\ud800a', '€\udbff', '\udc00\ud800', 'x\ud83d\ude00y\ud83d']) {
      expect(utf8Length(text), JSON.stringify(text)).toBe(encoder.encode(text).length);
    }
  });
});
