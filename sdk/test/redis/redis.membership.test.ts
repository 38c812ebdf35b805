/**
 * Membership seen across handles (issue 8): two defects a random differential run found, each kept as a
 * regression test that failed before its fix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStorageBackend } from '../../src/backends/redis/index.js';
import { MessageBus } from '../../src/core/bus.js';
import { Message } from '../../src/core/message.js';
import type { StoredMessage } from '../../src/core/types.js';
import { BroadcastRoutingPolicy } from '../../src/routing-policies/broadcast.js';
import { IndividualRoutingPolicy } from '../../src/routing-policies/individual.js';
import { SubgroupRoutingPolicy } from '../../src/routing-policies/subgroup.js';
import { type RedisServer, startRedis } from './server.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.dispose();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true or `ms` pass; returns its last answer. */
async function within(ms: number, check: () => Promise<boolean> | boolean): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(25);
  }
}

describe('RedisStorageBackend membership across handles', () => {
  it("a bus closed and reopened on the same backend keeps seeing other processes' membership changes and messages", async () => {
    const storage = new RedisStorageBackend({ url: server.url });
    const other = new RedisStorageBackend({ url: server.url });
    const failures: string[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        const room = `reopen-${i}`;
        await other.putMember(room, { id: 'a', online: true });
        await other.putMember(room, { id: 'c', online: true, groups: ['g'] });
        const first = new MessageBus(storage, new SubgroupRoutingPolicy(), { room, closeStorage: false, logLevel: 'silent' });
        expect((await first.sendMessage(new Message('a', 'warm', ['g']))).recipients).toEqual(['c']);
        await sleep(20); // the first bus's pub/sub subscription is up
        await first.close();
        // Reopened at once: its subscribe races the first bus's unsubscribe on the shared pub/sub connection.
        const reopened = new MessageBus(storage, new SubgroupRoutingPolicy(), { room, closeStorage: false, logLevel: 'silent' });
        const seen: StoredMessage[] = [];
        reopened.subscribe('a', (m) => void seen.push(m), { after: 1 });
        await sleep(50);
        // The reopened bus caches the member list it routes with, then another handle changes it.
        expect((await reopened.sendMessage(new Message('a', 'before b', ['g']))).recipients).toEqual(['c']);
        await other.putMember(room, { id: 'b', online: true, groups: ['g'] });
        const grouped = await within(2000, async () => {
          const sent = await reopened.sendMessage(new Message('a', 'to g', ['g']));
          return sent.recipients.join() === 'b,c';
        });
        if (!grouped) failures.push(`#${i}: sends to ["g"] never reached the new member b`);
        const elsewhere = new MessageBus(other, new IndividualRoutingPolicy(), { room, closeStorage: false, logLevel: 'silent' });
        const toA = await elsewhere.sendMessage(new Message('b', 'direct to a', ['a']));
        await elsewhere.close();
        if (!(await within(2000, () => seen.some((m) => m.id === toA.id)))) {
          failures.push(`#${i}: the reopened bus's subscribe missed message ${toA.id}, sent through another handle`);
        }
        await reopened.close();
      }
    } finally {
      await storage.close();
      await other.close();
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it('a send routes with every membership change another handle had acknowledged before the send began', async () => {
    const writer = new RedisStorageBackend({ url: server.url });
    const bus = new MessageBus(new RedisStorageBackend({ url: server.url }), new IndividualRoutingPolicy(), {
      room: 'handles',
      logLevel: 'silent',
    });
    const stale: string[] = [];
    try {
      await bus.connectAgent('a');
      await bus.sendMessage(new Message('a', 'warm-up', ['a']));
      await sleep(50); // the bus watches the room: its member list is cached
      for (let i = 0; i < 200; i++) {
        // A join through another handle, acknowledged: the next send may address the new member.
        await bus.sendMessage(new Message('a', 'to self', ['a'])); // the bus holds the list it will route with
        await writer.putMember('handles', { id: `n${i}`, online: true });
        try {
          const sent = await bus.sendMessage(new Message('a', `to n${i}`, [`n${i}`]));
          if (sent.recipients.join() !== `n${i}`) stale.push(`join n${i}: routed to [${sent.recipients}]`);
        } catch (error) {
          stale.push(`join n${i}: ${(error as Error).message}`);
        }
        // A leave through another handle, acknowledged: the next send to it is refused, not silently dropped.
        await writer.removeMember('handles', `n${i}`);
        try {
          const sent = await bus.sendMessage(new Message('a', `to gone n${i}`, [`n${i}`]));
          stale.push(`leave n${i}: accepted as message ${sent.id} for [${sent.recipients}]`);
        } catch (error) {
          if ((error as { code?: string }).code !== 'UNKNOWN_RECIPIENT') stale.push(`leave n${i}: ${(error as Error).message}`);
        }
      }
    } finally {
      await bus.close();
      await writer.close();
    }
    expect(stale).toEqual([]);
  }, 120_000);
});

describe('RedisStorageBackend under membership churn', () => {
  it('every send succeeds while another handle changes the members without pause', async () => {
    const writer = new RedisStorageBackend({ url: server.url });
    const bus = new MessageBus(new RedisStorageBackend({ url: server.url }), new BroadcastRoutingPolicy(), {
      room: 'churn',
      logLevel: 'silent',
    });
    await bus.connectAgent('a');
    await bus.connectAgent('b');
    let churning = true;
    const churn = (async () => {
      for (let i = 0; churning; i++) {
        await writer.putMember('churn', { id: `c${i % 20}`, online: true });
        if (i % 3 === 0) await writer.removeMember('churn', `c${(i + 7) % 20}`);
      }
    })();
    const failures: string[] = [];
    try {
      for (let i = 0; i < 100; i++) {
        await Promise.all(
          Array.from({ length: 4 }, (_, j) =>
            bus.sendMessage(new Message('a', `${i}-${j}`)).catch((error: Error) => void failures.push(error.message)),
          ),
        );
      }
    } finally {
      churning = false;
      await churn;
      await bus.close();
      await writer.close();
    }
    expect(failures).toEqual([]);
  }, 60_000);
});

describe('RedisStorageBackend routing on a member list whose change notice is still in flight', () => {
  it('routes to a member that just joined, refuses one that just left, and follows a group change', async () => {
    const { createClient } = await import('redis');
    const raw = createClient({ url: server.url });
    raw.on('error', () => {});
    await raw.connect();
    const storage = new RedisStorageBackend({ url: server.url, keyPrefix: 'inflight:' });
    const direct = new MessageBus(storage, new IndividualRoutingPolicy(), { room: 'r', closeStorage: false, logLevel: 'silent' });
    const grouped = new MessageBus(storage, new SubgroupRoutingPolicy(), { room: 'r', closeStorage: false, logLevel: 'silent' });
    // Another process's membership change, as its script writes it, with its pub/sub notice not delivered yet.
    const p = 'inflight:{r}:';
    const changeUnnoticed = async (write: () => Promise<unknown>) => {
      await write();
      await raw.hIncrBy(`${p}meta`, 'mver', 1);
      await raw.hDel(`${p}meta`, 'ep');
    };
    try {
      await direct.connectAgent('a');
      await direct.connectAgent('c', { groups: ['g'] });
      expect((await direct.sendMessage(new Message('a', 'warm-up', ['a']))).recipients).toEqual(['a']);
      await sleep(50); // watching: the member list is now served from the cache

      await changeUnnoticed(() =>
        Promise.all([raw.hSet(`${p}join`, 'n', '1'), raw.hSet(`${p}on`, 'n', '1'), raw.hSet(`${p}grp`, 'n', '["g"]')]),
      );
      expect((await direct.sendMessage(new Message('a', 'to the newcomer', ['n']))).recipients).toEqual(['n']);

      expect((await grouped.sendMessage(new Message('a', 'to g', ['g']))).recipients).toEqual(['c', 'n']);
      await changeUnnoticed(() => raw.hSet(`${p}grp`, 'n', '[]'));
      expect((await grouped.sendMessage(new Message('a', 'to g again', ['g']))).recipients).toEqual(['c']);

      expect((await direct.sendMessage(new Message('a', 'still here?', ['n']))).recipients).toEqual(['n']);
      await changeUnnoticed(() => Promise.all(['join', 'on', 'grp'].map((h) => raw.hDel(`${p}${h}`, 'n'))));
      await expect(direct.sendMessage(new Message('a', 'to the leaver', ['n']))).rejects.toMatchObject({ code: 'UNKNOWN_RECIPIENT' });
      expect((await storage.history('r', 0, 100)).map((m) => m.content)).toEqual([
        'warm-up',
        'to the newcomer',
        'to g',
        'to g again',
        'still here?',
      ]);
    } finally {
      await direct.close();
      await grouped.close();
      await storage.close();
      await raw.close();
    }
  });
});
