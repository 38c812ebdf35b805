// Conversations benchmark: request/reply round trips, and the two new indexed reads (fetchThread, fetchLatest with
// `before` in the middle) in a 1M-message room against a 10k room, each beside a baseline measured in this run.
// Memory, file and Redis in Node.js (Redis: its own redis-server on a free port); IndexedDB in Chromium and the
// Durable Object in workerd (`wrangler dev`) at the sizes their benches use, 16,000 against 2,000 messages.
// (The request/reply round trip over the worker is a row of bench/worker.mjs.)
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileStorageBackend, InMemoryStorageBackend, RedisStorageBackend } from '../sdk/dist/backends/index.js';
import { Message, MessageBus } from '../sdk/dist/index.js';
import { AddressedRoutingPolicy } from '../sdk/dist/routing-policies/index.js';
import { withBenchPage } from './browser-page.mjs';
import { startServer as startRedis } from './redis.mjs';
import { openSocket, post, startDev, token } from './worker.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The small rooms' page sizes: the 2,000-message room holds 20 thread messages and 20 for the reader. */
const SMALL = { threadLimit: 10, latestLimit: 5 };
const SMALL_SIZES = [2_000, 16_000];

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
  if (!only || only.includes('indexeddb')) rows.push(...(await indexedDbReads()));
  if (!only || only.includes('durable-object')) rows.push(...(await durableObjectReads()));
  notes.push(
    'request/reply: sequential bus.request(question) answered by a subscriber that replies with inReplyTo (AddressedRoutingPolicy, in memory); baseline: the same question and answer as two EventEmitter hops (emit, handler emits back, a promise resolves).',
    `fetchThread: a thread holding 1% of the room (every 100th message, routed to the reader, answers the previous one), read from a quarter of the way in, 50 at a time; fetchLatest: the reader's newest 25 below a random 'before' in the middle (1% of the room is routed to it). p50 of ${SAMPLES} reads; the ratio to the 10k room is the target (<= 2x).`,
    'The rooms are written through the bus (file backend with fsync "never"), so they hold what a real room holds: epochs, runs, the thread index.',
    `IndexedDB (Chromium, through the bus) and the Durable Object (over HTTP to wrangler dev: the routes /threads/:thread and /messages/latest) at ${SMALL_SIZES.map((n) => n.toLocaleString('en')).join(' and ')} messages, ${SMALL.threadLimit} thread and ${SMALL.latestLimit} latest messages per read, so both rooms give full pages.`,
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

/** The two rows of one backend: each read's p50 at both sizes, and the large room's ratio to the small one. */
function readRows(name, results, limits = { threadLimit: 50, latestLimit: 25 }) {
  const base = results[0];
  return results.flatMap((r) => [
    {
      measure: `${name}: fetchThread ${limits.threadLimit}`,
      'room messages': r.size,
      'p50 µs': +(r.thread * 1000).toFixed(1),
      'p50 ratio to the small room': +(r.thread / base.thread).toFixed(2),
    },
    {
      measure: `${name}: fetchLatest ${limits.latestLimit}, before in the middle`,
      'room messages': r.size,
      'p50 µs': +(r.latest * 1000).toFixed(1),
      'p50 ratio to the small room': +(r.latest / base.latest).toFixed(2),
    },
  ]);
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
  return readRows(name, results);
}

/** p50 in ms of `read()` over SAMPLES calls, after as many unmeasured ones (the first reads of a room are cold). */
async function sample(read) {
  for (let i = 0; i < SAMPLES; i++) await read();
  const times = [];
  for (let i = 0; i < SAMPLES; i++) {
    const start = performance.now();
    await read();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

/** The same rooms and reads in Chromium's IndexedDB, through the bus (the page is bundled as bench/indexeddb.mjs does). */
async function indexedDbReads() {
  const page = `
    import { Message, MessageBus } from '${join(repo, 'sdk/dist/index.js')}';
    import { IndexedDBStorageBackend } from '${join(repo, 'sdk/dist/backends/index.browser.js')}';
    import { AddressedRoutingPolicy } from '${join(repo, 'sdk/dist/routing-policies/index.js')}';
    const p50 = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const rooms = {};
    // Both rooms are written first and then read in alternating rounds (the best p50 of each kept), so the large
    // room is not read while the browser is still compacting what was just written.
    window.build = async (size) => {
      const storage = new IndexedDBStorageBackend({ dbName: 'conv-' + size + '-' + Date.now() });
      const bus = new MessageBus(storage, new AddressedRoutingPolicy(), { room: 'conv', logLevel: 'silent' });
      for (const agent of ['a', 'b', 'c']) await bus.connectAgent(agent);
      const thread = [];
      while (thread.length * 100 < size) {
        await Promise.all(Array.from({ length: 99 }, (_, j) => bus.sendMessage(new Message('a', j, ['c']))));
        const previous = thread.at(-1);
        const sent = await bus.sendMessage(new Message('a', 'thread', ['b'], previous === undefined ? {} : { inReplyTo: previous }));
        thread.push(sent.id);
      }
      rooms[size] = { bus, thread };
    };
    window.measure = async (size, threadLimit, latestLimit, samples) => {
      const { bus, thread } = rooms[size];
      const from = thread[Math.floor(thread.length / 4)];
      const threadTimes = [];
      const latestTimes = [];
      for (let i = 0; i < 2 * samples; i++) {
        let started = performance.now();
        await bus.fetchThread('b', thread[0], { after: from, limit: threadLimit });
        if (i >= samples) threadTimes.push(performance.now() - started);
        const before = Math.floor(size / 4 + Math.random() * (size / 2));
        started = performance.now();
        await bus.fetchLatest('b', { limit: latestLimit, before });
        if (i >= samples) latestTimes.push(performance.now() - started);
      }
      return { thread: p50(threadTimes), latest: p50(latestTimes) };
    };
    window.ready = true;`;
  return withBenchPage(page, repo, async ({ open }) => {
    const tab = await open();
    for (const size of SMALL_SIZES) await tab.evaluate((n) => window.build(n), size);
    const best = new Map(SMALL_SIZES.map((size) => [size, { size, thread: Number.POSITIVE_INFINITY, latest: Number.POSITIVE_INFINITY }]));
    for (let round = 0; round < 3; round++) {
      for (const size of SMALL_SIZES) {
        const r = await tab.evaluate(([n, t, l, k]) => window.measure(n, t, l, k), [size, SMALL.threadLimit, SMALL.latestLimit, 50]);
        const b = best.get(size);
        b.thread = Math.min(b.thread, r.thread);
        b.latest = Math.min(b.latest, r.latest);
      }
    }
    return readRows('IndexedDB (Chromium)', [...best.values()], SMALL);
  });
}

/** The same rooms in the Durable Object under `wrangler dev`, read over the worker's thread and paging routes. */
async function durableObjectReads() {
  const dev = await startDev();
  try {
    const admin = await token('admin', '*', 'admin');
    const results = [];
    for (const size of SMALL_SIZES) {
      const room = `conv-${size}-${Date.now().toString(36)}`;
      const [a, b, c] = [await token('a', room), await token('b', room), await token('c', room)];
      for (const [agent, t] of [
        ['a', a],
        ['b', b],
        ['c', c],
      ])
        await post(`${dev.url}/v1/rooms/${room}/agents/${agent}/connect`, t, {});
      const routed = await fetch(`${dev.url}/v1/rooms/${room}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ routing: 'addressed' }),
      });
      if (!routed.ok) throw new Error(`PUT routing: ${routed.status}`);
      const socket = await openSocket(`${dev.url.replace('http', 'ws')}/v1/rooms/${room}/ws?agent=a&token=${a}`);
      const threadIds = [];
      while (threadIds.length * 100 < size) {
        await sendFrames(socket, 99, (i) => ({ type: 'send', ref: i, content: i, recipients: ['c'] }));
        const previous = threadIds.at(-1);
        const sent = await post(`${dev.url}/v1/rooms/${room}/messages`, a, {
          content: 'thread',
          recipients: ['b'],
          ...(previous === undefined ? {} : { inReplyTo: previous }),
        });
        threadIds.push(sent.id);
      }
      socket.close();
      const from = threadIds[Math.floor(threadIds.length / 4)];
      const get = async (path) => {
        const started = performance.now();
        const response = await fetch(`${dev.url}/v1/rooms/${room}${path}`, { headers: { authorization: `Bearer ${b}` } });
        if (!response.ok) throw new Error(`GET ${path}: ${response.status}`);
        await response.json();
        return performance.now() - started;
      };
      const threadTimes = [];
      const latestTimes = [];
      // The first 50 rounds warm the path up and are not counted.
      for (let i = 0; i < 100; i++) {
        const thread = await get(`/threads/${threadIds[0]}?agent=b&after=${from}&limit=${SMALL.threadLimit}`);
        const before = Math.floor(size / 4 + Math.random() * (size / 2));
        const latest = await get(`/messages/latest?agent=b&before=${before}&limit=${SMALL.latestLimit}`);
        if (i >= 50) {
          threadTimes.push(thread);
          latestTimes.push(latest);
        }
      }
      const p50 = (xs) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)];
      results.push({ size, thread: p50(threadTimes), latest: p50(latestTimes) });
    }
    return readRows('Durable Object (wrangler dev, HTTP)', results, SMALL);
  } finally {
    await dev.stop();
  }
}

/** Sends `count` frames on one socket, 64 in flight, and waits for every answer. */
function sendFrames(ws, count, frame) {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = 0;
    const pump = () => {
      while (sent < count && sent - answered < 64) ws.send(JSON.stringify(frame(sent++)));
      if (answered === count) resolve();
    };
    ws.onmessage = (event) => {
      const reply = JSON.parse(String(event.data));
      if (reply.type === 'error') return reject(new Error(`send refused: ${JSON.stringify(reply.error)}`));
      if (reply.type !== 'ok') return;
      answered++;
      pump();
    };
    pump();
  });
}
