// Conversations on Durable Object tables written before them (fixtures/v1-tables.json: every mmb_ row the library at
// commit 4915fa6 wrote in a real Durable Object, see migration.test.ts). The migration adds the conversation columns;
// the old rows read back as messages that answer nothing, and replies thread on them.
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { Message, MessageBus, MessageBusError } from 'modular-message-bus-library';
import { DurableObjectStorageBackend } from 'modular-message-bus-library/backends';
import { IndividualRoutingPolicy } from 'modular-message-bus-library/routing-policies';
import { expect, it } from 'vitest';
import fixture from './fixtures/v1-tables.json';
import { loadFixture } from './helpers.js';

it('old rows are their own threads; replies on them are checked, threaded, indexed and read back by a new instance', async () => {
  const stub = env.ROOM_DIRECTORY.get(env.ROOM_DIRECTORY.idFromName(`migration-conv-${Date.now()}`));
  await runInDurableObject(stub, async (_instance, state) => {
    const sql = state.storage.sql;
    loadFixture(sql, fixture);
    const storage = new DurableObjectStorageBackend(state.storage);
    const bus = new MessageBus(storage, new IndividualRoutingPolicy(), { room: 'dm', logLevel: 'silent', closeStorage: false });
    const old = await bus.history(0);
    expect(old.map((m) => [m.id, m.thread, 'inReplyTo' in m, 'metadata' in m])).toEqual([
      [1, 1, false, false],
      [2, 2, false, false],
      [3, 3, false, false],
      [4, 4, false, false],
      [5, 5, false, false],
    ]);
    for (const agent of ['a', 'b', 'c']) await bus.connectAgent(agent);
    // dm: 1-3 went a → b, 4-5 b → a and c.
    const r6 = await bus.sendMessage(new Message('c', 'on 4', ['a', 'b'], { inReplyTo: 4, metadata: { kind: 'answer' } }));
    const r7 = await bus.sendMessage(new Message('a', 'on 6', ['c'], { inReplyTo: r6.id }));
    expect([r6, r7].map((m) => [m.id, m.inReplyTo, m.thread])).toEqual([
      [6, 4, 4],
      [7, 6, 4],
    ]);
    const hidden = await bus.sendMessage(new Message('c', 'x', ['a'], { inReplyTo: 1 })).catch((e: unknown) => e);
    expect(MessageBusError.is(hidden, 'INVALID_ARGUMENT')).toBe(true);
    expect((await bus.fetchThread('a', 4)).map((m) => m.id)).toEqual([4, 6, 7]);
    expect((await bus.fetchThread('b', 4)).map((m) => m.id)).toEqual([4, 6]);
    expect((await bus.fetchLatest('c')).map((m) => m.id)).toEqual([4, 5, 7]);
    expect((await bus.fetchLatest('b', { before: 6, limit: 2 })).map((m) => m.id)).toEqual([2, 3]);

    // A room trimmed before the migration: a reply to a trimmed message is refused like a missing one.
    const trimmed = new MessageBus(storage, new IndividualRoutingPolicy(), { room: 'trimmed', logLevel: 'silent', closeStorage: false });
    await trimmed.connectAgent('b');
    const gone = await trimmed.sendMessage(new Message('b', 'x', ['a'], { inReplyTo: 5 })).catch((e: unknown) => e);
    expect(MessageBusError.is(gone, 'INVALID_ARGUMENT')).toBe(true);
    expect((gone as Error).message).toBe((hidden as Error).message.replace('"dm"', '"trimmed"'));

    // Another instance over the same storage (another bus in the object) reads the same, and the rows hold the columns.
    const again = new MessageBus(new DurableObjectStorageBackend(state.storage), new IndividualRoutingPolicy(), {
      room: 'dm',
      logLevel: 'silent',
      closeStorage: false,
    });
    expect(await again.history(5)).toEqual(await bus.history(5));
    expect(
      sql.exec("SELECT id, in_reply_to, thread, metadata FROM mmb_messages WHERE room = 'dm' AND id > 5 ORDER BY id").toArray(),
    ).toEqual([
      { id: 6, in_reply_to: 4, thread: 4, metadata: '{"kind":"answer"}' },
      { id: 7, in_reply_to: 6, thread: 4, metadata: null },
    ]);
    await bus.close();
    await again.close();
    await trimmed.close();
  });
});
