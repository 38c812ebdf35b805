// The one migration of DurableObjectStorageBackend's tables: mmb_own_runs, added after version 1. fixtures/v1-tables.json
// holds the schema and every row a real Durable Object had after a history written by the library before that table
// (see fixtures/make-v1-tables.ts), and what that library answered. Loaded into a fresh object's SQLite and opened with
// today's backend, it must answer the same, keep every row, and gain the runs, which later broadcasts keep extending.
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { Message, MessageBus } from 'modular-message-bus-library';
import { DurableObjectStorageBackend } from 'modular-message-bus-library/backends';
import { BroadcastRoutingPolicy } from 'modular-message-bus-library/routing-policies';
import { expect, it } from 'vitest';
import fixture from './fixtures/v1-tables.json';
import { loadFixture } from './helpers.js';

type Row = Record<string, unknown>;
interface Answers {
  room: unknown;
  fetch: Record<string, { after: number; all: number[]; first: Record<string, number[]> }>;
}

/** Own runs as a plain scan of the broadcast rows finds them: consecutive broadcasts of a room excluding one sender. */
function scannedRuns(messages: Row[]): Row[] {
  const runs: Row[] = [];
  let open: Row | undefined;
  const byRoomThenId = (a: Row, b: Row) => String(a.room).localeCompare(String(b.room)) || (a.id as number) - (b.id as number);
  const broadcasts = messages.filter((m) => m.audience !== null).sort(byRoomThenId);
  for (const m of broadcasts) {
    if (open && open.room === m.room && open.sender === m.excluded) open.last_id = m.id;
    else {
      if (open) runs.push(open);
      open = m.excluded === null ? undefined : { room: m.room, sender: m.excluded, first_id: m.id, last_id: m.id };
    }
  }
  if (open) runs.push(open);
  return runs;
}

it('opens tables written by the library before mmb_own_runs: same answers, same rows, runs built and extended', async () => {
  // A RoomDirectory object: its SQLite has none of the bus's tables until this test writes the version-1 ones.
  const stub = env.ROOM_DIRECTORY.get(env.ROOM_DIRECTORY.idFromName(`migration-${Date.now()}`));
  await runInDurableObject(stub, async (_instance, state) => {
    const sql = state.storage.sql;
    loadFixture(sql, fixture);
    const storage = new DurableObjectStorageBackend(state.storage);
    for (const [room, answer] of Object.entries(fixture.answers as Record<string, Answers>)) {
      expect(await storage.getRoom(room)).toEqual(answer.room);
      for (const [agent, { after, all, first }] of Object.entries(answer.fetch)) {
        expect(
          (await storage.fetch(room, agent, after, 1000)).map((m) => m.id),
          `${room} ${agent}`,
        ).toEqual(all);
        for (const [x, ids] of Object.entries(first))
          expect((await storage.fetch(room, agent, Number(x), 1)).map((m) => m.id)).toEqual(ids);
      }
    }
    for (const [table, rows] of Object.entries(fixture.tables as Record<string, Row[]>)) {
      // Messages gained the conversation columns and stream_id, null in every old row (see migration-conversations.test.ts).
      const expected =
        table === 'mmb_messages' ? rows.map((row) => ({ ...row, in_reply_to: null, thread: null, metadata: null, stream_id: null })) : rows;
      expect(sql.exec(`SELECT * FROM ${table}`).toArray(), table).toEqual(expected);
    }
    const runs = sql.exec('SELECT room, sender, first_id, last_id FROM mmb_own_runs ORDER BY room, first_id').toArray();
    expect(runs).toEqual(scannedRuns(fixture.tables.mmb_messages as Row[]));
    expect(runs.length).toBeGreaterThan(3);

    // The lobby ended on an open run of a's broadcasts: a's next broadcasts extend it.
    const lobbyRuns = runs.filter((r) => r.room === 'lobby' && r.sender === 'a');
    const first = lobbyRuns.at(-1)?.first_id as number;
    const bus = new MessageBus(storage, new BroadcastRoutingPolicy(), { room: 'lobby', logLevel: 'silent', closeStorage: false });
    const sent: number[] = [];
    for (let i = 0; i < 3; i++) sent.push((await bus.sendMessage(new Message('a', `after the migration ${i}`))).id);
    const extended = sql
      .exec("SELECT first_id, last_id FROM mmb_own_runs WHERE room = 'lobby' AND sender = 'a' ORDER BY first_id DESC LIMIT 1")
      .one();
    expect(extended).toEqual({ first_id: first, last_id: sent[2] });
    expect(await storage.fetch('lobby', 'a', first - 1, 10)).toEqual([]);
    const b = (fixture.answers as Record<string, Answers>).lobby?.fetch.b;
    expect((await storage.fetch('lobby', 'b', 0, 1000)).map((m) => m.id)).toEqual([...(b?.all ?? []), ...sent]);
    await bus.close();
  });
});
