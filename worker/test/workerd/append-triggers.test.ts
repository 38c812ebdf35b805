// DurableObjectStorageBackend appends with one INSERT: its triggers (APPEND_TRIGGERS in the backend's schema.ts)
// keep the room head, the sender's stats, the delivery index and the own runs. Here in a real SQLite-backed Durable
// Object: after a mixed history, every table the triggers write equals what a plain scan of the stored messages
// gives, and the usual append is one statement without a transaction of its own.
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { Message, MessageBus } from 'modular-message-bus-library';
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
    expect(exec('SELECT last_id FROM mmb_rooms').one()).toEqual({ last_id: 300 });
    // Every member that sent (all of a-e but e, who joined late and sent nothing), as the messages count it.
    const stats = exec(
      `SELECT m.agent, COUNT(s.id) AS sent_count, MAX(s.timestamp) AS last_sent_at
       FROM mmb_members m LEFT JOIN mmb_messages s ON s.room = m.room AND s.sender = m.agent GROUP BY m.agent ORDER BY m.agent`,
    ).toArray();
    expect(stats.filter((row) => (row.sent_count as number) > 0)).toHaveLength(4);
    expect(exec('SELECT agent, sent_count, last_sent_at FROM mmb_members ORDER BY agent').toArray()).toEqual(stats);

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
