import { describe, expect, it } from 'vitest';
import { InMemoryStorageBackend } from '../src/backends/memory/index.js';
import { Message, MessageBus } from '../src/index.js';
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

  it('refuses structures nested deeper than 1000 levels', async () => {
    const bus = new MessageBus(new InMemoryStorageBackend(), new BroadcastRoutingPolicy(), { logLevel: 'silent' });
    await bus.connectAgent('a');
    let deep: unknown = 'leaf';
    for (let i = 0; i < 1001; i++) deep = [deep];
    await expect(bus.sendMessage(new Message('a', deep as string))).rejects.toMatchObject({ code: 'INVALID_MESSAGE' });
    let fine: unknown = 'leaf';
    for (let i = 0; i < 999; i++) fine = [fine];
    expect((await bus.sendMessage(new Message('a', fine as string))).id).toBe(1);
  });
});
