import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStorageBackend } from '../../src/backends/redis/index.js';
import { MessageBus } from '../../src/core/bus.js';
import { Message } from '../../src/core/message.js';
import { BroadcastRoutingPolicy } from '../../src/routing-policies/broadcast.js';
import { bundleChild } from '../file/bundle.js';
import { kill, startChild } from '../file/child.js';
import { type RedisServer, startRedis } from './server.js';

let server: RedisServer;
let sender: string;
let subscriber: string;
beforeAll(async () => {
  [server, sender, subscriber] = await Promise.all([
    startRedis(),
    bundleChild(join(import.meta.dirname, 'fixtures', 'sender.ts')),
    bundleChild(join(import.meta.dirname, 'fixtures', 'subscriber.ts')),
  ]);
});
afterAll(async () => {
  await server?.dispose();
});

describe('RedisStorageBackend across processes', () => {
  it('two processes sending to one room at once get unique, gap-free ids, each in its own order', async () => {
    const children = ['p1', 'p2'].map((agent) => startChild(sender, [server.url, 'two-writers', agent, '150']));
    try {
      await Promise.all(children.map((c) => c.ready));
      const storage = new RedisStorageBackend({ url: server.url });
      await storage.putMember('two-writers', { id: 'go', online: true }); // the third member starts both
      const codes = await Promise.all(children.map((c) => c.exited));
      expect(codes).toEqual([0, 0]);
      const history = [...(await storage.history('two-writers', 0, 1000)), ...(await storage.history('two-writers', 1000, 1000))];
      expect(history.map((m) => m.id)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
      for (const agent of ['p1', 'p2']) {
        expect(history.filter((m) => m.sender === agent).map((m) => m.content)).toEqual(
          Array.from({ length: 150 }, (_, i) => `${agent}-${i}`),
        );
      }
      // Both children's acknowledgements are exactly the stored ids.
      const acked = children.flatMap((c) => c.lines.filter((l) => l.startsWith('sent ')).map((l) => Number(l.slice(5))));
      expect(acked.sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
      await storage.close();
    } finally {
      for (const c of children) await kill(c);
    }
  }, 60_000);

  it('a subscriber in another process sees each message live, well within 100 ms', async () => {
    const child = startChild(subscriber, [server.url, 'live', 'b']);
    try {
      const bus = new MessageBus(new RedisStorageBackend({ url: server.url }), new BroadcastRoutingPolicy(), {
        room: 'live',
        logLevel: 'silent',
      });
      await bus.connectAgent('a');
      await child.ready;
      for (let i = 0; i < 20; i++) {
        await bus.sendMessage(new Message('a', i));
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const deadline = Date.now() + 5000;
      while (child.lines.filter((l) => l.startsWith('got ')).length < 20 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      const got = child.lines.filter((l) => l.startsWith('got ')).map((l) => l.split(' ').slice(1).map(Number) as [number, number, number]);
      expect(got.map(([id]) => id)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      // Latency from acceptance by the sending bus to delivery in the other process (one machine, one clock).
      const latencies = got.map(([, sentAt, gotAt]) => gotAt - sentAt).sort((x, y) => x - y);
      expect(latencies[Math.floor(latencies.length / 2)]).toBeLessThan(100);
      await bus.close();
    } finally {
      await kill(child);
    }
  }, 30_000);
});
