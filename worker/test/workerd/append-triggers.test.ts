// DurableObjectStorageBackend appends with one INSERT: its triggers (APPEND_TRIGGERS in the backend's schema.ts)
// keep the delivery index and the own runs; the room head and the senders' stats are settled every 256 appends
// (settled.ts). Here in a real SQLite-backed Durable Object: after a mixed history, every table the triggers write
// equals what a plain scan of the stored messages gives, the stats read back equal the scan too, and the usual
// append is one statement without a transaction of its own.
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { Message, MessageBus, type RoomSnapshot } from 'modular-message-bus-library';
import { DurableObjectStorageBackend } from 'modular-message-bus-library/backends';
import { BroadcastRoutingPolicy, IndividualRoutingPolicy } from 'modular-message-bus-library/routing-policies';
import { expect, it } from 'vitest';

type Row = Record<string, unknown>;

/** Own runs as a scan finds them: consecutive broadcasts of a room that exclude one sender. */
function scannedRuns(messages: Row[]): Row[] {
  const runs: Row[] = [];
  let open: Row | undefined;
  for (const m of messages.filter((row) => row.audience !== null)) {
    if (open && open.sender === m.excluded) open.last_id = m.id;
    else {
      if (open) runs.push(open);
      open = m.excluded === null ? undefined : { room: m.room, sender: m.excluded, first_id: m.id, last_id: m.id };
    }
  }
  if (open) runs.push(open);
  return runs.sort((a, b) => String(a.sender).localeCompare(String(b.sender)) || (a.first_id as number) - (b.first_id as number));
}

it('keeps head, stats, deliveries and own runs equal to a scan of the messages, in one statement per usual append', async () => {
  const stub = env.CHAT_ROOM.get(env.CHAT_ROOM.idFromName(`triggers-${Date.now()}`));
  await runInDurableObject(stub, async (_instance, state) => {
    const counts = { exec: 0, transactions: 0 };
    const sql = state.storage.sql;
    const exec = sql.exec.bind(sql);
    const transactionSync = state.storage.transactionSync.bind(state.storage);
    const counted = {
      sql: {
        exec: (query: string, ...bindings: unknown[]) => {
          counts.exec++;
          return exec(query, ...bindings);
        },
      },
      transactionSync: <T>(closure: () => T): T => {
        counts.transactions++;
        return transactionSync(closure);
      },
    };
    const storage = new DurableObjectStorageBackend(counted);
    let time = 1_700_000_000_000;
    const options = { room: 'lab', now: () => (time += 7), closeStorage: false, logLevel: 'silent' as const };
    const broadcast = new MessageBus(storage, new BroadcastRoutingPolicy(), options);
    const direct = new MessageBus(storage, new IndividualRoutingPolicy(), options);
    for (const agent of ['a', 'b', 'c', 'd']) await broadcast.connectAgent(agent);
    let seed = 7;
    // A seeded LCG, its high bits (the low ones of an LCG repeat quickly).
    const random = (n: number) => Math.floor((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 16) % n;
    for (let i = 0; i < 300; i++) {
      // Long runs of a and b, broken now and then by c and d.
      const sender = ['a', 'b', 'c', 'd'][random(4) === 0 ? 2 + random(2) : random(2)] as string;
      if (random(5) === 0)
        await direct.sendMessage(new Message(sender, i, ['a', 'b', 'c', 'd'].filter((x) => x !== sender).slice(random(3))));
      else await broadcast.sendMessage(new Message(sender, i));
      if (i === 150) await broadcast.connectAgent('e');
    }

    const messages = exec('SELECT * FROM mmb_messages ORDER BY id').toArray();
    expect(messages).toHaveLength(300);
    expect(exec('SELECT room, sender, first_id, last_id FROM mmb_own_runs ORDER BY sender, first_id').toArray()).toEqual(
      scannedRuns(messages),
    );
    const deliveries = messages
      .filter((m) => m.audience === null)
      .flatMap((m) => (JSON.parse(m.recipients as string) as string[]).map((agent) => ({ agent, id: m.id })))
      .sort((x, y) => x.agent.localeCompare(y.agent) || (x.id as number) - (y.id as number));
    expect(deliveries.length).toBeGreaterThan(20);
    expect(exec('SELECT agent, id FROM mmb_deliveries ORDER BY agent, id').toArray()).toEqual(deliveries);
    // The head and the stats are settled every 256 appends (settled.ts): stored as of id 256, the tail above it
    // added on read, by this instance's counts and by a fresh instance's read of the tail alike.
    expect(exec('SELECT last_id FROM mmb_rooms').one()).toEqual({ last_id: 256 });
    const scanned = (through: number) =>
      exec(
        `SELECT m.agent, COUNT(s.id) AS sent_count, MAX(s.timestamp) AS last_sent_at
         FROM mmb_members m LEFT JOIN mmb_messages s ON s.room = m.room AND s.sender = m.agent AND s.id <= ?
         GROUP BY m.agent ORDER BY m.agent`,
        through,
      ).toArray();
    // Every member that sent (all of a-e but e, who joined late and sent nothing), as the messages count it.
    expect(scanned(300).filter((row) => (row.sent_count as number) > 0)).toHaveLength(4);
    expect(exec('SELECT agent, sent_count, last_sent_at FROM mmb_members ORDER BY agent').toArray()).toEqual(scanned(256));
    const asRead = (room: RoomSnapshot) => room.members.map((m) => ({ agent: m.id, sent_count: m.sentCount, last_sent_at: m.lastSentAt }));
    const snapshot = await storage.getRoom('lab');
    expect(snapshot.lastId).toBe(300);
    expect(asRead(snapshot)).toEqual(scanned(300));
    const fresh = new DurableObjectStorageBackend({ sql: state.storage.sql });
    expect(await fresh.getRoom('lab')).toEqual(snapshot);

    // Work per append, steady state: one statement, no transaction of its own.
    counts.exec = 0;
    counts.transactions = 0;
    await broadcast.sendMessage(new Message('a', 'one more'));
    await direct.sendMessage(new Message('b', 'psst', ['c']));
    expect(counts).toEqual({ exec: 2, transactions: 0 });
    // A broadcast after a join starts an epoch: more statements, in one transaction.
    await broadcast.connectAgent('f');
    counts.exec = 0;
    counts.transactions = 0;
    await broadcast.sendMessage(new Message('a', 'to the new epoch'));
    expect(counts.transactions).toBe(1);
    expect(counts.exec).toBeGreaterThan(1);
  });
});

it('settles the stats before retention trims their messages, and counts a re-joined member from zero', async () => {
  const stub = env.CHAT_ROOM.get(env.CHAT_ROOM.idFromName(`settle-${Date.now()}`));
  await runInDurableObject(stub, async (_instance, state) => {
    // Retention far below the settling batch: every trim that would drop an uncounted message settles first.
    const storage = new DurableObjectStorageBackend(state.storage, { maxMessages: 10 });
    let time = 1_700_000_000_000;
    const bus = new MessageBus(storage, new BroadcastRoutingPolicy(), {
      room: 'kept',
      now: () => (time += 3),
      closeStorage: false,
      logLevel: 'silent',
    });
    for (const agent of ['a', 'b']) await bus.connectAgent(agent);
    const last: Record<string, number> = {};
    for (let i = 0; i < 100; i++) {
      const sender = i % 5 < 3 ? 'a' : 'b';
      last[sender] = (await bus.sendMessage(new Message(sender, i))).timestamp;
    }
    const stats = (room: RoomSnapshot) => Object.fromEntries(room.members.map((m) => [m.id, [m.sentCount, m.lastSentAt]]));
    const read = async () => {
      const live = await storage.getRoom('kept');
      // A new instance has no counts in memory: it reads the tail.
      expect(await new DurableObjectStorageBackend({ sql: state.storage.sql }).getRoom('kept')).toEqual(live);
      return live;
    };
    let room = await read();
    expect(room.oldestId).toBe(91);
    expect(stats(room)).toEqual({ a: [60, last.a], b: [40, last.b] });
    expect(state.storage.sql.exec('SELECT COUNT(*) AS n FROM mmb_messages').one().n).toBe(10);

    // b leaves with messages of its in the tail, comes back, sends twice: only those two are its.
    await bus.removeAgent('b');
    await bus.connectAgent('b');
    await bus.sendMessage(new Message('b', 'again'));
    const again = await bus.sendMessage(new Message('b', 'and again'));
    room = await read();
    expect(stats(room)).toEqual({ a: [60, last.a], b: [2, again.timestamp] });
    expect(room.lastId).toBe(102);
  });
});
