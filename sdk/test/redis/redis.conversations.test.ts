// Keys written by release 0.1.0 (fixtures/v0.1.0/redis.json, from generate.mjs there) open with today's backend:
// its messages read back as their own threads, and replies thread on them. Plus the thread keys under retention.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStorageBackend } from '../../src/backends/redis/index.js';
import { Message, MessageBus } from '../../src/index.js';
import { BroadcastRoutingPolicy } from '../../src/routing-policies/index.js';
import { checkMigratedRoom } from '../fixtures/v0.1.0/expectations.js';
import { type RedisServer, startRedis } from './server.js';

interface Dump {
  prefix: string;
  keys: { key: string; type: 'string' | 'hash' | 'zset' | 'list' | 'set'; value: unknown }[];
}

const dump = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../fixtures/v0.1.0/redis.json'), 'utf8')) as Dump;

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.dispose();
});

/** The 0.1.0 keys, written under `prefix` with plain commands. */
async function restore(prefix: string): Promise<void> {
  const client = createClient({ url: server.url });
  await client.connect();
  for (const { key, type, value } of dump.keys) {
    const name = `${prefix}${key}`;
    if (type === 'string') await client.set(name, value as string);
    else if (type === 'hash') await client.hSet(name, value as Record<string, string>);
    else if (type === 'zset') await client.zAdd(name, value as { value: string; score: number }[]);
    else if (type === 'list') await client.rPush(name, value as string[]);
    else await client.sAdd(name, value as string[]);
  }
  await client.close();
}

async function keys(pattern: string): Promise<string[]> {
  const client = createClient({ url: server.url });
  await client.connect();
  const found: string[] = [];
  for await (const batch of client.scanIterator({ MATCH: pattern })) found.push(...batch);
  await client.close();
  return found.sort();
}

describe('RedisStorageBackend conversations', () => {
  it('opens keys written by 0.1.0: old messages are their own threads, and replies thread on them', async () => {
    await restore('v010:');
    const open = () => new RedisStorageBackend({ url: server.url, keyPrefix: 'v010:' });
    await checkMigratedRoom(open(), async () => open());
    expect(await keys('v010:{legacy}:th:*')).toEqual(['v010:{legacy}:th:1', 'v010:{legacy}:th:3']);
  });

  it("keeps 0.1.0 members' send counts and times (kept outside the room's head then) and carries them on", async () => {
    await restore('v010c:');
    const storage = new RedisStorageBackend({ url: server.url, keyPrefix: 'v010c:' });
    const counters = async () =>
      Object.fromEntries((await storage.getRoom('legacy')).members.map((m) => [m.id, [m.sentCount, m.lastSentAt]]));
    expect(await counters()).toEqual({ a: [3, 1700000005000], b: [1, 1700000002000], c: [1, 1700000003000] });
    await storage.append('legacy', {
      timestamp: 1800000000000,
      sender: 'b',
      content: 'after the upgrade',
      contentJson: '"after the upgrade"',
      recipients: ['a', 'c'],
      audience: 'members-except-sender',
      routing: { policy: 'broadcast', requested: null },
    });
    expect(await counters()).toEqual({ a: [3, 1700000005000], b: [2, 1800000000000], c: [1, 1700000003000] });
    // Leaving and joining again starts a member's counters afresh, whichever layout held them.
    await storage.removeMember('legacy', 'c');
    await storage.putMember('legacy', { id: 'c', online: true });
    expect((await counters()).c).toEqual([0, null]);
    await storage.close();
  });

  it('retention removes the thread keys of trimmed replies', async () => {
    const storage = new RedisStorageBackend({ url: server.url, keyPrefix: 'trim:', maxMessages: 5 });
    const bus = new MessageBus(storage, new BroadcastRoutingPolicy(), { room: 'r', logLevel: 'silent' });
    await bus.connectAgent('a');
    await bus.connectAgent('b');
    const root = await bus.sendMessage(new Message('a', 'root'));
    let parent = root;
    for (let i = 0; i < 3; i++) parent = await bus.sendMessage(new Message('b', `r${i}`, undefined, { inReplyTo: parent.id }));
    expect(await keys('trim:{r}:th:*')).toEqual(['trim:{r}:th:1']);
    for (let i = 0; i < 5; i++) await bus.sendMessage(new Message('a', `later ${i}`));
    expect(await keys('trim:{r}:th:*')).toEqual([]);
    expect(await bus.fetchThread('b', root.id)).toEqual([]);
    await bus.close();
  });
});
