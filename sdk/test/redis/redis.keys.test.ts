import { describe, expect, it } from 'vitest';
import { RedisStorageBackend } from '../../src/backends/redis/index.js';
import { MessageBus } from '../../src/core/bus.js';
import { Message } from '../../src/core/message.js';
import { BroadcastRoutingPolicy } from '../../src/routing-policies/broadcast.js';
import { redisForFile } from './server.js';

const testRedis = redisForFile();

describe('RedisStorageBackend keys', () => {
  it('keeps every key of a room under the prefix and its {room} hash tag, and a broadcast audience once', async () => {
    const storage = new RedisStorageBackend({ url: testRedis.server.url, keyPrefix: 'tagged:' });
    const bus = new MessageBus(storage, new BroadcastRoutingPolicy(), { room: 'team-1', logLevel: 'silent' });
    for (const agent of ['a', 'b', 'c', 'd']) await bus.connectAgent(agent);
    for (let i = 0; i < 50; i++) await bus.sendMessage(new Message('a', i));
    const keys = await testRedis.client.keys('tagged:*');
    expect(keys.filter((k) => k !== 'tagged:rooms').every((k) => k.startsWith('tagged:{team-1}:'))).toBe(true);
    // 50 broadcasts, one audience: the member list is stored once, not once per message.
    expect(keys.filter((k) => k.includes(':ep:'))).toEqual(['tagged:{team-1}:ep:1']);
    expect(await testRedis.client.sMembers('tagged:{team-1}:ep:1')).toHaveLength(4);
    expect(await testRedis.client.hLen('tagged:{team-1}:msg')).toBe(50);
    expect((await testRedis.client.hGet('tagged:{team-1}:msg', '1'))?.startsWith('X1\n')).toBe(true);
    await bus.close();
  });

  it('retention removes trimmed messages, their index entries, idempotency keys and unused audiences', async () => {
    const storage = new RedisStorageBackend({ url: testRedis.server.url, keyPrefix: 'ret:', maxMessages: 10 });
    const bus = new MessageBus(storage, new BroadcastRoutingPolicy(), { room: 'r', logLevel: 'silent' });
    await bus.connectAgent('a');
    for (let round = 0; round < 5; round++) {
      await bus.connectAgent(`member-${round}`); // a new audience each round
      for (let i = 0; i < 10; i++) await bus.sendMessage(new Message('a', `${round}-${i}`, undefined, { idempotencyKey: `${round}-${i}` }));
    }
    await storage.putMember('r', { id: 'late', online: true });
    await storage.append('r', {
      timestamp: 1,
      sender: 'a',
      content: 'direct',
      contentJson: '"direct"',
      recipients: ['late'],
      audience: 'list',
      routing: { policy: 'test', requested: ['late'] },
    });
    expect(await testRedis.client.hLen('ret:{r}:msg')).toBe(10);
    expect(await testRedis.client.zCard('ret:{r}:bc')).toBe(9);
    expect(await testRedis.client.hLen('ret:{r}:idem')).toBe(9);
    expect(await testRedis.client.hLen('ret:{r}:ik')).toBe(9);
    expect((await testRedis.client.keys('ret:{r}:ep:*')).sort()).toEqual(['ret:{r}:ep:5']);
    expect((await testRedis.client.keys('ret:{r}:epl:*')).sort()).toEqual(['ret:{r}:epl:5']);
    expect(await testRedis.client.zRange('ret:{r}:dl:late', 0, -1)).toEqual(['51']);
    // A trimmed key may be used again: it stores a new message.
    const again = await bus.sendMessage(new Message('a', 'reused key', undefined, { idempotencyKey: '0-0' }));
    expect(again.id).toBe(52);
    await bus.close();
  });

  it('refuses a room id that is not a bus id (it would break the hash tag) and writes nothing', async () => {
    const storage = new RedisStorageBackend({ url: testRedis.server.url, keyPrefix: 'bad:' });
    for (const room of ['a{b}', 'x y', '']) {
      await expect(storage.putMember(room, { id: 'a', online: true })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(storage.getRoom(room)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect(() => storage.watch(room, () => {})).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
    expect(await testRedis.client.keys('bad:*')).toEqual([]);
    await storage.close();
  });

  it("fetch jumps over a long run of the agent's own broadcasts instead of scanning them", async () => {
    const storage = new RedisStorageBackend({ url: testRedis.server.url, keyPrefix: 'run:' });
    await storage.putMember('r', { id: 'a', online: true });
    await storage.putMember('r', { id: 'b', online: true });
    const draft = (sender: string, i: number) => ({
      timestamp: i,
      sender,
      content: i,
      contentJson: String(i),
      recipients: [],
      audience: 'members-except-sender' as const,
      routing: { policy: 'broadcast', requested: null },
    });
    const run = async (from: number) => {
      for (let i = from; i < from + 5000; i += 100)
        await Promise.all(Array.from({ length: 100 }, (_, j) => storage.append('r', draft('a', i + j))));
    };
    await run(0); // ids 1..5000: a's own
    await storage.append('r', draft('b', 5000)); // id 5001
    await run(5001); // ids 5002..10001: a's own again
    const calls = async (command: string) => {
      const stats = (await testRedis.client.sendCommand(['INFO', 'commandstats'])) as string;
      return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    };
    const forward = await calls('zrangebyscore');
    expect((await storage.fetch('r', 'a', 0, 10)).map((m) => m.id)).toEqual([5001]);
    // A scan would read 10,000 own broadcasts 200 at a time (50 range reads); the jumps need a handful.
    expect((await calls('zrangebyscore')) - forward).toBeLessThan(8);
    const backward = await calls('zrevrangebyscore');
    expect((await storage.getRoom('r')).members.find((m) => m.id === 'a')?.lastRoutedId).toBe(5001);
    expect((await calls('zrevrangebyscore')) - backward).toBeLessThan(8);
    await storage.close();
  });
});
