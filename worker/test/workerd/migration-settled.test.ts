// Tables written with the per-append head trigger (fixtures/head-trigger-tables.json: every mmb_ row the library at
// commit 7255dca wrote in a real Durable Object, and what it answered; see fixtures/make-head-trigger-tables.ts).
// Today's backend drops that trigger and settles the head and the stats in batches (settled.ts): the old rooms must
// answer the same, keep every row, go on numbering ids where they stopped, and count every later send.
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { Message, MessageBus, type RoomSnapshot } from 'modular-message-bus-library';
import { DurableObjectStorageBackend } from 'modular-message-bus-library/backends';
import { BroadcastRoutingPolicy } from 'modular-message-bus-library/routing-policies';
import { expect, it } from 'vitest';
import fixture from './fixtures/head-trigger-tables.json';
import { loadFixture } from './helpers.js';

type Row = Record<string, unknown>;
interface Answers {
  room: RoomSnapshot;
  fetch: Record<string, number[]>;
}

it('opens rooms whose head a trigger wrote per append: same answers and rows, ids go on, sends are counted', async () => {
  const stub = env.ROOM_DIRECTORY.get(env.ROOM_DIRECTORY.idFromName(`migration-settled-${Date.now()}`));
  await runInDurableObject(stub, async (_instance, state) => {
    const sql = state.storage.sql;
    // Tables and indexes, the rows as they were, then the triggers (loading rows must not fire them).
    loadFixture(sql, fixture, { triggersLast: true });
    const triggers = () =>
      sql
        .exec("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        .toArray()
        .map((r) => r.name);
    expect(triggers()).toContain('mmb_message_head');

    const storage = new DurableObjectStorageBackend(state.storage, { maxMessages: 1000 });
    expect(triggers()).toEqual(['mmb_message_deliveries', 'mmb_message_own_run']);
    const answers = fixture.answers as unknown as Record<string, Answers>;
    for (const [room, answer] of Object.entries(answers)) {
      expect(await storage.getRoom(room)).toEqual(answer.room);
      for (const [agent, ids] of Object.entries(answer.fetch)) {
        const after = Math.max(0, answer.room.oldestId - 1);
        expect(
          (await storage.fetch(room, agent, after, 1000)).map((m) => m.id),
          `${room} ${agent}`,
        ).toEqual(ids);
      }
    }
    for (const [table, rows] of Object.entries(fixture.tables as Record<string, Row[]>)) {
      expect(sql.exec(`SELECT * FROM ${table}`).toArray(), table).toEqual(rows);
    }

    // The lobby goes on: ids after the old last one, each send counted (a tail above the old head first, then settled).
    const lobby = answers.lobby as Answers;
    const bus = new MessageBus(storage, new BroadcastRoutingPolicy(), { room: 'lobby', logLevel: 'silent', closeStorage: false });
    const sent: number[] = [];
    for (let i = 0; i < 300; i++) sent.push((await bus.sendMessage(new Message(i % 3 === 0 ? 'c' : 'a', `after ${i}`))).id);
    expect(sent[0]).toBe(lobby.room.lastId + 1);
    expect(sent.at(-1)).toBe(lobby.room.lastId + 300);
    const now = await storage.getRoom('lobby');
    const sentBy = (agent: string) => now.members.find((m) => m.id === agent)?.sentCount;
    const before = (agent: string) => lobby.room.members.find((m) => m.id === agent)?.sentCount as number;
    expect(sentBy('a')).toBe(before('a') + 200);
    expect(sentBy('c')).toBe(before('c') + 100);
    expect(sentBy('b')).toBe(before('b'));
    // Settled once on the way (every 256 appends), the rest a tail: a new instance reads the same.
    const settled = sql.exec("SELECT last_id FROM mmb_rooms WHERE room = 'lobby'").one().last_id as number;
    expect(settled).toBe(lobby.room.lastId + 256);
    const fresh = new DurableObjectStorageBackend({ sql: state.storage.sql });
    expect(await fresh.getRoom('lobby')).toEqual(now);
    expect(now.lastId).toBe(lobby.room.lastId + 300);
  });
});
