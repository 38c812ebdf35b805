import { describe, expect, it } from 'vitest';
import { InMemoryStorageBackend } from '../src/backends/index.js';
import { Message, MessageBus } from '../src/index.js';
import { IndividualRoutingPolicy } from '../src/routing-policies/index.js';

describe('message timestamps', () => {
  it('are the wall-clock millisecond the send was made, by default', async () => {
    const bus = new MessageBus(new InMemoryStorageBackend(), new IndividualRoutingPolicy(), { room: 'clock', logLevel: 'silent' });
    await bus.connectAgent('ana');
    await bus.connectAgent('ben');
    let last = 0;
    for (let i = 0; i < 200; i++) {
      const before = Date.now();
      const stored = await bus.sendMessage(new Message('ana', { i }, ['ben']));
      const after = Date.now();
      expect(Number.isInteger(stored.timestamp)).toBe(true);
      expect(stored.timestamp).toBeGreaterThanOrEqual(before - 1);
      expect(stored.timestamp).toBeLessThanOrEqual(after + 1);
      // Sends one after another never go back in time.
      expect(stored.timestamp).toBeGreaterThanOrEqual(last);
      last = stored.timestamp;
    }
    await bus.close();
  });

  it('come from the `now` option when the bus is given one', async () => {
    let clock = 1_700_000_000_000;
    const bus = new MessageBus(new InMemoryStorageBackend(), new IndividualRoutingPolicy(), {
      room: 'clock',
      logLevel: 'silent',
      now: () => clock++,
    });
    await bus.connectAgent('ana');
    await bus.connectAgent('ben');
    expect((await bus.sendMessage(new Message('ana', 'one', ['ben']))).timestamp).toBe(1_700_000_000_000);
    expect((await bus.sendMessage(new Message('ana', 'two', ['ben']))).timestamp).toBe(1_700_000_000_001);
    await bus.close();
  });
});
