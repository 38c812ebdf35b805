// Conversations benchmark: request/reply round trips, and the two new indexed reads (fetchThread, fetchLatest with
// `before` in the middle) in a 1M-message room against a 10k room, each beside a baseline measured in this run.
// Memory, file and Redis backends (Redis: its own redis-server on a free port, like bench/redis.mjs).
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStorageBackend, InMemoryStorageBackend, RedisStorageBackend } from '../sdk/dist/backends/index.js';
import { Message, MessageBus } from '../sdk/dist/index.js';
import { AddressedRoutingPolicy } from '../sdk/dist/routing-policies/index.js';
import { startServer as startRedis } from './redis.mjs';

const quick = process.env.BENCH_QUICK === '1';
const SAMPLES = quick ? 300 : 1000;
/** BENCH_BACKENDS=memory,file limits the indexed-read rows to those backends. */
const only = process.env.BENCH_BACKENDS?.split(',');

export async function run() {
  const rows = [];
  const notes = [];
  rows.push(...(await roundTrips()));
  const sizes = [10_000, quick ? 100_000 : 1_000_000];
  const dir = mkdtempSync(join(tmpdir(), 'mmb-bench-conv-'));
  const redis = await startRedis();
  try {
    const backends = [
      ['memory', () => new InMemoryStorageBackend()],
      ['file', () => new FileStorageBackend({ directory: dir, fsync: 'never' })],
      ['redis', () => new RedisStorageBackend({ url: redis.url, keyPrefix: `bench-conv-${Date.now()}:`, commandTimeoutMs: 30_000 })],
    ];
    for (const [name, create] of backends) {
      if (only && !only.includes(name)) continue;
      rows.push(...(await indexedReads(name, create, sizes)));
    }
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  notes.push(
    'request/reply: sequential bus.request(question) answered by a subscriber that replies with inReplyTo (AddressedRoutingPolicy, in memory); baseline: the same question and answer as two EventEmitter hops (emit, handler emits back, a promise resolves).',
    `fetchThread: a thread holding 1% of the room (every 100th message, routed to the reader, answers the previous one), read from a quarter of the way in, 50 at a time; fetchLatest: the reader's newest 25 below a random 'before' in the middle (1% of the room is routed to it). p50 of ${SAMPLES} reads; the ratio to the 10k room is the target (<= 2x).`,
    'The rooms are written through the bus (file backend with fsync "never"), so they hold what a real room holds: epochs, runs, the thread index.',
  );
  return { title: 'conversations: request/reply and indexed thread and paging reads', rows, notes };
}

async function roundTrips() {
  const n = quick ? 2_000 : 20_000;
  const emitter = new EventEmitter();
  emitter.on('question', (q) => emitter.emit(`answer:${q.id}`, { inReplyTo: q.id }));
  const baseline = await best(
    n,
    (i) =>
      new Promise((resolve) => {
        emitter.once(`answer:${i}`, resolve);
        emitter.emit('question', { id: i, content: 'q' });
      }),
  );
  const bus = new MessageBus(new InMemoryStorageBackend(), new AddressedRoutingPolicy(), { room: 'rtt', logLevel: 'silent' });
  await bus.connectAgent('planner');
  await bus.connectAgent('researcher');
  bus.subscribe('researcher', (m) => void bus.sendMessage(new Message('researcher', 'a', ['planner'], { inReplyTo: m.id })), { after: 0 });
  const rate = await best(n, () => bus.request(new Message('planner', 'q', ['researcher']), { timeoutMs: 10_000 }));
  await bus.close();
  return [
    {
      measure: 'request → reply → resolved, in memory',
      'round trips/s': Math.round(rate),
      'baseline round trips/s': Math.round(baseline),
      'ratio to baseline': +(rate / baseline).toFixed(3),
    },
  ];
}

/** Round trips per second of `body(i)`, best of three rounds. */
async function best(n, body) {
  let top = 0;
  for (let r = 0; r < 3; r++) {
    const start = performance.now();
    for (let i = 0; i < n; i++) await body(i);
    top = Math.max(top, n / ((performance.now() - start) / 1000));
  }
  return top;
}

async function indexedReads(name, create, sizes) {
  const results = [];
  for (const size of sizes) {
    const storage = create();
    const room = `conv-${size}-${Date.now()}`;
    const bus = new MessageBus(storage, new AddressedRoutingPolicy(), { room, logLevel: 'silent' });
    for (const agent of ['a', 'b', 'c']) await bus.connectAgent(agent);
    // 99 plain messages to c, then one to b that answers the previous one to b: b's mail is one thread, 1% of the room.
    const threadIds = [];
    while (threadIds.length * 100 < size) {
      const batch = [];
      for (let j = 0; j < 99; j++) batch.push(bus.sendMessage(new Message('a', j, ['c'])));
      await Promise.all(batch);
      const previous = threadIds.at(-1);
      const sent = await bus.sendMessage(new Message('a', 'thread', ['b'], previous === undefined ? {} : { inReplyTo: previous }));
      threadIds.push(sent.id);
    }
    const root = threadIds[0];
    const from = threadIds[Math.floor(threadIds.length / 4)];
    const thread = await sample(() => bus.fetchThread('b', root, { after: from, limit: 50 }));
    const last = (await storage.getRoom(room)).lastId;
    const latest = await sample(() => bus.fetchLatest('b', { limit: 25, before: Math.floor(last / 4 + Math.random() * (last / 2)) }));
    results.push({ size, thread, latest });
    await bus.close();
  }
  const base = results[0];
  return results.flatMap((r) => [
    {
      measure: `${name}: fetchThread 50`,
      'room messages': r.size,
      'p50 µs': +(r.thread * 1000).toFixed(1),
      'p50 ratio to 10k room': +(r.thread / base.thread).toFixed(2),
    },
    {
      measure: `${name}: fetchLatest 25, before in the middle`,
      'room messages': r.size,
      'p50 µs': +(r.latest * 1000).toFixed(1),
      'p50 ratio to 10k room': +(r.latest / base.latest).toFixed(2),
    },
  ]);
}

/** p50 in ms of `read()` over SAMPLES calls. */
async function sample(read) {
  const times = [];
  for (let i = 0; i < SAMPLES; i++) {
    const start = performance.now();
    await read();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}
