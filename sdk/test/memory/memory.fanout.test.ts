// The in-memory backend's broadcast index: fetch and lastRoutedId jump over runs of an agent's own broadcasts.
// Checked against the definition (every retained message whose recipients include the agent), on random
// histories with long runs, retention and re-joins.
import { describe, expect, it } from 'vitest';
import { InMemoryStorageBackend } from '../../src/backends/memory/index.js';
import { Message, MessageBus } from '../../src/index.js';
import { BroadcastRoutingPolicy, IndividualRoutingPolicy } from '../../src/routing-policies/index.js';

function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('InMemoryStorageBackend fan-out index', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`fetch and lastRoutedId match the definition on a random history (seed ${seed})`, async () => {
      const storage = new InMemoryStorageBackend({ maxMessages: seed % 2 ? 400 : undefined });
      const shared = { room: 'fanout', logLevel: 'silent' as const, closeStorage: false };
      const broadcast = new MessageBus(storage, new BroadcastRoutingPolicy(), shared);
      const direct = new MessageBus(storage, new IndividualRoutingPolicy(), shared);
      const agents = ['a', 'b', 'c', 'd'];
      for (const agent of agents) await broadcast.connectAgent(agent);
      const next = random(seed);
      for (let step = 0; step < 1500; step++) {
        // Long runs by one sender: a stays the sender for a while.
        const sender = next() < 0.7 ? 'a' : (agents[Math.floor(next() * agents.length)] as string);
        const roll = next();
        if (roll < 0.01 && sender !== 'a') {
          await broadcast.removeAgent(sender);
          await broadcast.connectAgent(sender);
        } else if (roll < 0.2) {
          await direct.sendMessage(new Message(sender, step, [agents[Math.floor(next() * agents.length)] as string]));
        } else {
          await broadcast.sendMessage(new Message(sender, step));
        }
      }
      const room = await storage.getRoom('fanout');
      const history = await storage.history('fanout', 0, 100_000);
      for (const member of room.members) {
        const mine = history.filter((m) => m.id > member.joinedAfter && m.recipients.includes(member.id)).map((m) => m.id);
        const fetched: number[] = [];
        let after = Math.max(member.joinedAfter, room.oldestId - 1);
        for (;;) {
          const page = await storage.fetch('fanout', member.id, after, 37);
          if (page.length === 0) break;
          fetched.push(...page.map((m) => m.id));
          after = page.at(-1)?.id as number;
        }
        expect(fetched).toEqual(mine);
        expect(member.lastRoutedId).toBe(mine.at(-1) ?? 0);
      }
    });
  }
});
