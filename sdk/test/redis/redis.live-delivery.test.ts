// Live delivery across processes: a subscriber takes the message Redis published when its id is the next one it
// expects, and reads the store only on a gap (a publication it never got, a dropped pub/sub connection). Each
// case counts the subscriber backend's fetches, so the happy path is proved to need none.
import { createClient } from 'redis';
import { afterEach, describe, expect, it } from 'vitest';
import { MessageCodec } from '../../src/backends/redis/codec.js';
import { RedisStorageBackend } from '../../src/backends/redis/index.js';
import { APPEND } from '../../src/backends/redis/scripts/append.js';
import { MessageBus } from '../../src/core/bus.js';
import { Message } from '../../src/core/message.js';
import type { MessageDraft, StoredMessage } from '../../src/core/types.js';
import { AddressedRoutingPolicy } from '../../src/routing-policies/addressed.js';
import { redisForFile, startRedis } from './server.js';

const PREFIX = 'live:';
const testRedis = redisForFile();
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A writer bus and a subscriber bus on two backends (two processes, as far as Redis can tell), agents a, b, c. */
async function twoProcesses(room: string, url = testRedis.server.url) {
  const writer = new MessageBus(new RedisStorageBackend({ url, keyPrefix: PREFIX }), new AddressedRoutingPolicy(), {
    room,
    logLevel: 'silent',
  });
  const storage = new RedisStorageBackend({ url, keyPrefix: PREFIX });
  let fetches = 0;
  const fetch = storage.fetch.bind(storage);
  storage.fetch = (...args: Parameters<RedisStorageBackend['fetch']>) => {
    fetches++;
    return fetch(...args);
  };
  const reader = new MessageBus(storage, new AddressedRoutingPolicy(), { room, logLevel: 'silent' });
  closers.push(
    () => writer.close(),
    () => reader.close(),
  );
  for (const agent of ['a', 'b', 'c']) await writer.connectAgent(agent);
  const got: StoredMessage[] = [];
  reader.subscribe('b', (message) => void got.push(message), { after: 0 });
  return { writer, reader, got, fetches: () => fetches };
}

async function eventually(check: () => void, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

function expectGapFree(got: readonly StoredMessage[], ids: readonly number[]): void {
  expect(got.map((m) => m.id)).toEqual(ids);
}

describe('RedisStorageBackend live delivery across processes', () => {
  it('delivers what Redis published without reading the store: one fetch (the replay) for 200 messages', async () => {
    const { writer, got, fetches } = await twoProcesses('happy');
    const first = await writer.sendMessage(new Message('a', 'hello'));
    await eventually(() => expect(got.map((m) => m.id)).toContain(first.id));
    const replay = fetches();
    const ids: number[] = [first.id];
    for (let i = 0; i < 200; i += 20) {
      const sent = await Promise.all(Array.from({ length: 20 }, (_, j) => writer.sendMessage(new Message(j % 2 ? 'a' : 'c', i + j))));
      ids.push(...sent.map((m) => m.id));
    }
    ids.sort((x, y) => x - y);
    await eventually(() => expect(got).toHaveLength(ids.length));
    expectGapFree(got, ids);
    expect(replay).toBeGreaterThanOrEqual(1);
    expect(fetches() - replay).toBe(0);
  });

  it('a publication the subscriber never got is a gap: the store fills it, in order, once, and keeps routing private', async () => {
    const { writer, reader, got, fetches } = await twoProcesses('gap');
    await reader.connectAgent('b');
    const first = await writer.sendMessage(new Message('a', 'first'));
    await eventually(() => expect(got.map((m) => m.id)).toEqual([first.id]));
    // The subscriber's backend skips publications carrying its own writer id (its appends are delivered in-process):
    // appends made with that id, but not through it, are publications it never hears of. Learn the id from one of
    // its own appends.
    const listener = testRedis.client.duplicate();
    await listener.connect();
    const writerIds: string[] = [];
    await listener.subscribe(`${PREFIX}{gap}:live`, (raw) => void writerIds.push(raw.split('\n')[1] as string));
    await reader.sendMessage(new Message('b', 'from b'));
    await eventually(() => expect(writerIds).toHaveLength(1));
    await listener.close();
    const silent = async (recipient: string, content: string): Promise<number> => {
      const draft: MessageDraft = {
        timestamp: Date.now(),
        sender: 'a',
        content,
        contentJson: JSON.stringify(content),
        recipients: [recipient],
        audience: 'list',
        routing: { policy: 'addressed', requested: [recipient] },
      };
      const args = new MessageCodec().appendArgs('gap', draft, 0, writerIds[0] as string, '');
      const reply = (await testRedis.client.sendCommand(['EVAL', APPEND, '1', `${PREFIX}{gap}:meta`, `${PREFIX}{gap}:`, ...args])) as [
        number,
        number,
      ];
      expect(reply[0]).toBe(1);
      return reply[1];
    };
    const missedForB = await silent('b', 'missed, for b');
    const forC = await silent('c', 'for c only');
    const fetchesBefore = fetches();
    const next = await writer.sendMessage(new Message('a', 'next'));
    await eventually(() => expect(got.map((m) => m.id)).toContain(next.id));
    expectGapFree(got, [first.id, missedForB, next.id]);
    expect(got.map((m) => m.content)).toEqual(['first', 'missed, for b', 'next']);
    expect(forC).toBeLessThan(next.id);
    expect(fetches() - fetchesBefore).toBeGreaterThanOrEqual(1);
    // After the gap, live delivery is direct again.
    const settled = fetches();
    const later = await Promise.all([1, 2, 3].map((i) => writer.sendMessage(new Message('c', `later ${i}`))));
    await eventually(() => expect(got).toHaveLength(6));
    expectGapFree(got, [first.id, missedForB, next.id, ...later.map((m) => m.id).sort((x, y) => x - y)]);
    expect(fetches()).toBe(settled);
  });

  it("a dropped pub/sub connection: what was sent meanwhile arrives after the reconnect, in order, once, and not another agent's", async () => {
    // A server of its own: the connection count below must not include connections of earlier cases still closing.
    const own = await startRedis();
    const ownAdmin = createClient({ url: own.url });
    ownAdmin.on('error', () => {});
    await ownAdmin.connect();
    closers.push(async () => {
      await ownAdmin.close();
      await own.dispose();
    });
    const { writer, got } = await twoProcesses('drop', own.url);
    const first = await writer.sendMessage(new Message('a', 'before'));
    await eventually(() => expect(got.map((m) => m.id)).toEqual([first.id]));
    // Drop both backends' pub/sub connections and keep them out (no room for a new client) while the writer sends.
    const clients = Number(/connected_clients:(\d+)/.exec(String(await ownAdmin.sendCommand(['INFO', 'clients'])))?.[1]);
    const subscribers = String(await ownAdmin.sendCommand(['CLIENT', 'LIST', 'TYPE', 'pubsub']))
      .trim()
      .split('\n').length;
    await ownAdmin.sendCommand(['CONFIG', 'SET', 'maxclients', String(clients - subscribers)]);
    await ownAdmin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    const during: StoredMessage[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        during.push(await writer.sendMessage(new Message('a', `during ${i}`)));
        during.push(await writer.sendMessage(new Message('a', `direct to c ${i}`, ['c'])));
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(got).toHaveLength(1); // nothing arrives while the subscriber cannot reconnect
    } finally {
      await ownAdmin.sendCommand(['CONFIG', 'SET', 'maxclients', '10000']);
    }
    const mine = during.filter((m) => m.recipients.includes('b'));
    // The catch-up after the reconnect brings them, without waiting for a later message to reveal the gap.
    await eventually(() => expect(got).toHaveLength(1 + mine.length));
    const after = await writer.sendMessage(new Message('c', 'after', ['b']));
    await eventually(() => expect(got).toHaveLength(2 + mine.length));
    expectGapFree(got, [first.id, ...mine.map((m) => m.id), after.id]);
    expect(got.every((m) => m.recipients.includes('b'))).toBe(true);
  }, 30_000);
});
