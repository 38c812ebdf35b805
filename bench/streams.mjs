// Streams benchmark (MessageBus.stream), each figure beside a baseline measured in this run:
// - in memory: deltas/s from one stream to 10 subscribed recipients, against EventEmitter emit + JSON.stringify;
// - records written per stream (appends counted on the storage; rows of the worker's history);
// - the worker (wrangler dev): deltas/s and delta latency p50/p99 from one streaming socket to 10 recipient sockets,
//   against the raw BenchEcho object relaying the same frames to 10 sockets (worker/src/bench-echo.ts, mode=relay);
// - IndexedDB (Chromium): tab-to-tab delta latency p50, against a bare BroadcastChannel post;
// - Redis: process-to-process delta latency p50 (a child process subscribes), against a bare PUBLISH/SUBSCRIBE.
// Needs `npm run build` (the bench runner does it).
import { execFileSync, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, startWrangler } from '../scripts/support/wrangler.mjs';
import { InMemoryStorageBackend, RedisStorageBackend } from '../sdk/dist/backends/index.js';
import { Message, MessageBus } from '../sdk/dist/index.js';
import { AddressedRoutingPolicy } from '../sdk/dist/routing-policies/index.js';
import { withBenchPage } from './browser-page.mjs';
import { startServer as startRedis } from './redis.mjs';
import { openSocket, post, token } from './worker.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.env.BENCH_QUICK === '1';
const RECIPIENTS = 10;
const TOKEN = 'tok ';
const now = () => performance.timeOrigin + performance.now();
const percentile = (values, p) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))];
const r2 = (x) => Number(x.toPrecision(2));
const median = (values) => percentile(values, 0.5);

export async function run() {
  // BENCH_STREAMS=worker (or a comma list of memory, records, worker, indexeddb, redis) runs only those parts.
  const only = process.env.BENCH_STREAMS?.split(',');
  const wants = (part) => !only || only.includes(part);
  const rows = [];
  if (wants('memory')) rows.push(...(await inMemory()));
  if (wants('records')) rows.push(await recordsPerStream());
  if (wants('worker')) rows.push(...(await worker()));
  if (wants('indexeddb')) rows.push(await indexedDb());
  if (wants('redis')) rows.push(await redis());
  const notes = [
    `in memory: one MessageBus (AddressedRoutingPolicy), ${RECIPIENTS} recipients each subscribed with onStream, one stream, writes of "${TOKEN}" in a loop (one write is one delta in a MessageBus); baseline: the same delta object JSON.stringify'd and emitted to ${RECIPIENTS} EventEmitter listeners. Best of three rounds each.`,
    'records per stream: appends the storage saw for a 2,000-delta stream and its end (memory), and messages in the room history after one on the worker; the worker also writes one chatroom_streams row at the start and deletes it at the end (what tells a restarted object which streams it lost), nothing per delta.',
    `worker: one stream=1 socket writes numbered stream-write frames (64 in flight) to ${RECIPIENTS} recipient agent sockets for 2.5 s; deltas/s counts deltas every recipient received. Raw: BenchEcho relaying each frame to ${RECIPIENTS} listening sockets without the SQLite insert. Latency: one write at a time, until the last recipient has it.`,
    'IndexedDB and Redis latencies: a delta every 5 ms, send time to arrival in the other tab / process (one machine, one clock); baselines: a bare BroadcastChannel post, a bare PUBLISH to a node-redis subscriber in the child.',
  ];
  return { title: 'streams: deltas/s and latency per transport, records per stream', rows, notes };
}

// --- in memory ---

async function inMemory() {
  const n = quick ? 20_000 : 200_000;
  const emitter = new EventEmitter();
  emitter.setMaxListeners(RECIPIENTS + 1);
  let baselineGot = 0;
  for (let i = 0; i < RECIPIENTS; i++) emitter.on('delta', () => void baselineGot++);
  const baseline = () => {
    const start = performance.now();
    for (let seq = 1; seq <= n; seq++) emitter.emit('delta', JSON.stringify({ type: 'delta', streamId: 's', seq, text: TOKEN }));
    return n / ((performance.now() - start) / 1000);
  };
  const bus = new MessageBus(new InMemoryStorageBackend(), new AddressedRoutingPolicy(), {
    room: 'bench',
    logLevel: 'silent',
    maxContentBytes: 64 * 1024 * 1024,
  });
  await bus.connectAgent('writer');
  const recipients = Array.from({ length: RECIPIENTS }, (_, i) => `r${i}`);
  let got = 0;
  for (const agent of recipients) {
    await bus.connectAgent(agent);
    bus.subscribe(agent, () => {}, { onStream: (e) => void (e.type === 'delta' && got++) });
  }
  const streamed = async () => {
    const stream = await bus.stream(new Message('writer', '', recipients));
    got = 0;
    const start = performance.now();
    for (let i = 0; i < n; i++) stream.write(TOKEN);
    const rate = n / ((performance.now() - start) / 1000);
    if (got !== n * RECIPIENTS) throw new Error(`in-memory stream: ${got} deliveries, expected ${n * RECIPIENTS}`);
    await stream.abort('bench');
    return rate;
  };
  let bestBus = 0;
  let bestBase = 0;
  for (let round = 0; round < 3; round++) {
    bestBase = Math.max(bestBase, baseline());
    bestBus = Math.max(bestBus, await streamed());
  }
  await bus.close();
  if (baselineGot !== 3 * n * RECIPIENTS) throw new Error('baseline listeners missed deltas');
  return [
    {
      measure: `in memory: deltas/s, one stream to ${RECIPIENTS} recipients`,
      result: Math.round(bestBus),
      baseline: Math.round(bestBase),
      'ratio to baseline': r2(bestBus / bestBase),
      target: '>= 0.33',
    },
  ];
}

async function recordsPerStream() {
  const storage = new InMemoryStorageBackend();
  const append = storage.append.bind(storage);
  let appends = 0;
  storage.append = (room, draft) => {
    appends++;
    return append(room, draft);
  };
  const bus = new MessageBus(storage, new AddressedRoutingPolicy(), { room: 'records', logLevel: 'silent' });
  await bus.connectAgent('writer');
  await bus.connectAgent('critic');
  const stream = await bus.stream(new Message('writer', '', ['critic']));
  for (let i = 0; i < 2000; i++) stream.write(TOKEN);
  await stream.end();
  await bus.close();
  return { measure: 'records written per stream of 2,000 deltas (memory)', result: appends, baseline: '2,000 sends: 2,000', target: '1' };
}

// --- the worker ---

async function worker() {
  const secret = 'bench-secret';
  const dev = await startWrangler({
    config: join(ROOT, 'worker/test/wrangler.bench.toml'),
    vars: {
      BUS_SECRET: secret,
      RATE_LIMIT_PER_SECOND: '1000000',
      RATE_LIMIT_BURST: '1000000',
      MAX_STREAM_DELTAS_PER_SECOND: '1000000',
      MAX_OPEN_STREAMS_PER_AGENT: '100',
      MAX_CONTENT_BYTES: '16777216',
      MAX_SOCKETS_PER_ROOM: '10000',
    },
  });
  try {
    const base = dev.url;
    const wsBase = base.replace('http', 'ws');
    const room = `bench-streams-${Date.now().toString(36)}`;
    const writerToken = await token('writer', room);
    await post(`${base}/v1/rooms/${room}/agents/writer/connect`, writerToken, {});
    const recipientUrls = [];

    for (let i = 0; i < RECIPIENTS; i++) {
      const agent = `r${i}`;
      const t = await token(agent, room);
      await post(`${base}/v1/rooms/${room}/agents/${agent}/connect`, t, {});
      recipientUrls.push(`${wsBase}/v1/rooms/${room}/ws?agent=${agent}&token=${t}`);
    }
    const busSide = {
      writerUrl: `${wsBase}/v1/rooms/${room}/ws?agent=writer&stream=1&token=${writerToken}`,
      listenerUrls: recipientUrls,
      // The stream starts on the writer's socket; each frame then names it.
      async begin(writer) {
        const answer = await request(writer, { type: 'stream-start', ref: 'start' }); // a broadcast room: every member but the writer
        return answer.stream.id;
      },
      frame: (streamId, seq) => ({ type: 'stream-write', streamId, seq, text: TOKEN }),
      seqOf: (frame) => (frame.type === 'stream' && frame.event.type === 'delta' ? frame.event.seq : undefined),
    };
    const rawSide = {
      writerUrl: `${wsBase}/bench-echo/streams?mode=relay`,
      listenerUrls: Array.from({ length: RECIPIENTS }, () => `${wsBase}/bench-echo/streams?mode=listen`),
      begin: async () => 'raw',
      frame: (streamId, seq) => ({ type: 'stream-write', streamId, seq, text: TOKEN }),
      seqOf: (frame) => (frame.type === 'message' ? JSON.parse(frame.body).seq : undefined),
    };
    const cpu = workerdCpu(dev.port);
    busSide.cpu = cpu;
    rawSide.cpu = cpu;
    const results = { bus: [], raw: [] };
    const rounds = Number(process.env.BENCH_ROUNDS ?? (quick ? 2 : 4));
    for (let round = 0; round < rounds; round++) {
      results.raw.push(await relay(rawSide));
      results.bus.push(await relay(busSide));
    }
    const best = (list, key) => Math.max(...list.map((r) => r[key]));
    const low = (list, key) => Math.min(...list.map((r) => r[key]));
    const history = await (
      await fetch(`${base}/v1/rooms/${room}/history`, { headers: { authorization: `Bearer ${await token('ops', room, 'admin')}` } })
    ).json();
    const busRate = best(results.bus, 'rate');
    const rawRate = best(results.raw, 'rate');
    // Each round's bus figure beside the raw one measured just before it (the machine's load drifts).
    const ratios = results.bus.map((r, i) => r.rate / results.raw[i].rate);
    const rates = (list) => list.map((r) => Math.round(r.rate)).join(', ');
    const work = (list) => {
      const sum = (key) => list.reduce((total, r) => total + r[key], 0);
      const deltas = sum('deltas');
      const us = (key) => Math.round((sum(key) * 1000) / deltas);
      return `${r2(sum('listenerFrames') / deltas)} frames and ${Math.round(sum('listenerBytes') / deltas)} bytes to the recipients, ${r2(sum('writerFrames') / deltas)} back to the writer; CPU ${us('workerdMs')} µs in workerd, ${us('clientMs')} µs in the bench's sockets`;
    };
    return [
      {
        measure: `worker: deltas/s (each to all ${RECIPIENTS}: ${Math.round(busRate * RECIPIENTS)} deliveries/s), one streaming socket to ${RECIPIENTS} recipient sockets; best of ${rounds} alternating rounds`,
        result: Math.round(busRate),
        baseline: Math.round(rawRate),
        'ratio to baseline': r2(busRate / rawRate),
        target: '>= 0.5 and >= 2,000/s',
      },
      {
        measure: 'worker: deltas/s round by round (bus | raw), and the ratio of each round (median, range)',
        result: rates(results.bus),
        baseline: rates(results.raw),
        'ratio to baseline': `${r2(median(ratios))} (${r2(Math.min(...ratios))}-${r2(Math.max(...ratios))})`,
        target: '',
      },
      {
        measure: 'worker: work per delta (throughput phase)',
        result: work(results.bus),
        baseline: work(results.raw),
        target: '',
      },
      {
        measure: `worker: delta latency p50 / p99 (ms), to the last of ${RECIPIENTS}`,
        result: `${low(results.bus, 'p50').toFixed(1)} / ${low(results.bus, 'p99').toFixed(1)}`,
        baseline: `${low(results.raw, 'p50').toFixed(1)} / ${low(results.raw, 'p99').toFixed(1)}`,
        'ratio to baseline': r2(low(results.bus, 'p50') / low(results.raw, 'p50')),
        target: '',
      },
      {
        measure: 'records written per stream (worker history after the streams above)',
        result: history.messages.length / results.bus.length,
        baseline: '',
        target: '1',
      },
    ];
  } finally {
    await dev.stop();
  }
}

/** Throughput (64 frames in flight for 2.5 s) and then latency (one at a time) of one side. */
async function relay(side) {
  const listeners = [];
  for (const url of side.listenerUrls) listeners.push(await openSocket(url));
  const writer = await openSocket(side.writerUrl);
  const streamId = await side.begin(writer);
  const counts = listeners.map(() => 0);
  const lastSeq = listeners.map(() => 0);
  const work = { listenerFrames: 0, listenerBytes: 0, writerFrames: 0 };
  let counting = true;
  let onSeq = () => {};
  listeners.forEach((ws, i) => {
    ws.onmessage = (event) => {
      const text = String(event.data);
      if (counting) {
        work.listenerFrames++;
        work.listenerBytes += Buffer.byteLength(text);
      }
      const seq = side.seqOf(JSON.parse(text));
      if (seq === undefined) return;
      counts[i]++;
      lastSeq[i] = seq;
      onSeq(seq);
    };
  });
  let seq = 0;
  let inFlight = 0;
  const cpuBefore = side.cpu?.();
  const clientBefore = process.cpuUsage();
  const WINDOW = 64;
  const DURATION = quick ? 1000 : 2500;
  const started = performance.now();
  await new Promise((resolve) => {
    const pump = () => {
      while (inFlight < WINDOW && performance.now() - started < DURATION) {
        inFlight++;
        writer.send(JSON.stringify(side.frame(streamId, ++seq)));
      }
      if (inFlight === 0) resolve();
    };
    writer.onmessage = (event) => {
      if (counting) work.writerFrames++;
      const frame = JSON.parse(String(event.data));
      if (frame.type !== 'ok' && frame.type !== 'error') return;
      inFlight--;
      pump();
    };
    pump();
  });
  const sent = seq;
  const deadline = Date.now() + 10_000;
  while (Math.min(...lastSeq) < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  const rate = Math.min(...counts) / ((performance.now() - started) / 1000);
  counting = false;
  // CPU time spent per delta, whatever the machine's load: workerd's (the room) and this process's (the sockets).
  const workerdMs = cpuBefore === undefined ? Number.NaN : side.cpu() - cpuBefore;
  const client = process.cpuUsage(clientBefore);
  work.workerdMs = workerdMs;
  work.clientMs = (client.user + client.system) / 1000;
  // Latency: one write at a time.
  const latencies = [];
  for (let i = 0; i < (quick ? 50 : 200); i++) {
    const target = ++seq;
    let remaining = listeners.length;
    const t0 = performance.now();
    await new Promise((resolve) => {
      onSeq = (s) => {
        if (s === target && --remaining === 0) resolve();
      };
      writer.send(JSON.stringify(side.frame(streamId, target)));
    });
    latencies.push(performance.now() - t0);
  }
  onSeq = () => {};
  if (streamId !== 'raw') await request(writer, { type: 'stream-end', ref: 'end', streamId, seq });
  for (const ws of [...listeners, writer]) ws.close();
  return { rate, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), deltas: sent, ...work };
}

/**
 * A function reading the CPU time (ms) of the workerd processes serving `port` so far (Linux /proc; `undefined` where
 * it cannot find them): wrangler is the process started with `--port <port>`, workerd its descendant.
 */
function workerdCpu(port) {
  try {
    const rows = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' })
      .split('\n')
      .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
      .filter(Boolean)
      .map(([, pid, ppid, args]) => ({ pid: Number(pid), ppid: Number(ppid), args }));
    const root = rows.find((r) => r.args.includes('wrangler') && r.args.includes(`--port ${port} `));
    if (!root) return undefined;
    const family = new Set([root.pid]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const r of rows) if (family.has(r.ppid) && !family.has(r.pid)) grew = family.add(r.pid) !== undefined;
    }
    const workerd = rows.filter((r) => family.has(r.pid) && /workerd/.test(r.args)).map((r) => r.pid);
    if (workerd.length === 0) return undefined;
    const tick = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return () =>
      workerd.reduce((total, pid) => {
        // Fields 14 and 15 of /proc/<pid>/stat (after the parenthesised name): user and system time, in clock ticks.
        const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
        return total + (Number(fields[11]) + Number(fields[12])) * tick;
      }, 0);
  } catch {
    return undefined;
  }
}

function request(ws, frame) {
  return new Promise((resolve, reject) => {
    const previous = ws.onmessage;
    ws.onmessage = (event) => {
      const answer = JSON.parse(String(event.data));
      if (answer.ref !== frame.ref) return previous?.(event);
      ws.onmessage = previous;
      if (answer.type === 'ok') resolve(answer);
      else reject(new Error(`${frame.type}: ${JSON.stringify(answer.error)}`));
    };
    ws.send(JSON.stringify(frame));
  });
}

// --- IndexedDB, two tabs ---

const PAGE = `
import { IndexedDBStorageBackend } from './sdk/dist/backends/index.browser.js';
import { Message, MessageBus } from './sdk/dist/index.js';
import { AddressedRoutingPolicy } from './sdk/dist/routing-policies/index.js';
const now = () => performance.timeOrigin + performance.now();
window.bench = {
  got: [], raw: [],
  async open(dbName) {
    this.bus = new MessageBus(new IndexedDBStorageBackend({ dbName }), new AddressedRoutingPolicy(), { room: 'tabs', logLevel: 'silent' });
    for (const agent of ['writer', 'reader']) await this.bus.connectAgent(agent);
    this.channel = new BroadcastChannel('raw-streams');
  },
  listen() {
    this.bus.subscribe('reader', () => {}, { onStream: (e) => { if (e.type === 'delta') this.got.push([e.seq, now()]); } });
    this.channel.onmessage = (e) => this.raw.push([e.data.seq, now()]);
  },
  async write(count, gapMs) {
    const stream = await this.bus.stream(new Message('writer', '', ['reader']));
    const sent = [];
    const rawSent = [];
    for (let seq = 1; seq <= count; seq++) {
      sent.push(now());
      stream.write('tok ');
      rawSent.push(now());
      this.channel.postMessage({ type: 'delta', seq, text: 'tok ' });
      await new Promise((r) => setTimeout(r, gapMs));
    }
    await stream.end();
    return { sent, rawSent };
  },
};
window.ready = true;
`;

async function indexedDb() {
  return withBenchPage(PAGE, join(here, '..'), async ({ open }) => {
    const [tabA, tabB] = [await open(), await open()];
    const dbName = `streams-${Date.now().toString(36)}`;
    await tabA.evaluate((db) => window.bench.open(db), dbName);
    await tabB.evaluate((db) => window.bench.open(db), dbName);
    await tabB.evaluate(() => window.bench.listen());
    const count = quick ? 60 : 200;
    const { sent, rawSent } = await tabA.evaluate((n) => window.bench.write(n, 5), count);
    await tabB.waitForFunction((n) => window.bench.got.length >= n && window.bench.raw.length >= n, count, { timeout: 20_000 });
    const { got, raw } = await tabB.evaluate(() => ({ got: window.bench.got, raw: window.bench.raw }));
    const latency = got.map(([seq, at]) => at - sent[seq - 1]);
    const rawLatency = raw.map(([seq, at]) => at - rawSent[seq - 1]);
    const p50 = percentile(latency, 0.5);
    const rawP50 = percentile(rawLatency, 0.5);
    return {
      measure: `IndexedDB (Chromium): tab-to-tab delta latency p50 (ms), ${count} deltas`,
      result: p50.toFixed(2),
      baseline: rawP50.toFixed(2),
      'ratio to baseline': r2(p50 / rawP50),
      target: '< 20 ms',
    };
  });
}

// --- Redis, two processes ---

async function redis() {
  const server = await startRedis();
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--stream-child', server.url], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const lines = [];
    let partial = '';
    let ready;
    const isReady = new Promise((resolve) => (ready = resolve));
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        if (line === 'ready') ready();
        else lines.push(line);
      }
    });
    await isReady;
    const bus = new MessageBus(new RedisStorageBackend({ url: server.url }), new AddressedRoutingPolicy(), {
      room: 'procs',
      logLevel: 'silent',
    });
    await bus.connectAgent('writer');
    const { createClient } = await import('redis');
    const publisher = createClient({ url: server.url });
    await publisher.connect();
    const count = quick ? 60 : 200;
    const stream = await bus.stream(new Message('writer', '', ['reader']));
    const sent = [];
    const rawSent = [];
    for (let seq = 1; seq <= count; seq++) {
      sent.push(now());
      stream.write(TOKEN);
      rawSent.push(now());
      await publisher.publish('raw-streams', String(seq));
      await new Promise((r) => setTimeout(r, 5));
    }
    await stream.end();
    const deadline = Date.now() + 10_000;
    const of = (kind) => lines.filter((l) => l.startsWith(`${kind} `)).map((l) => l.split(' ').slice(1).map(Number));
    while ((of('d').length < count || of('r').length < count) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const latency = of('d').map(([seq, at]) => at - sent[seq - 1]);
    const rawLatency = of('r').map(([seq, at]) => at - rawSent[seq - 1]);
    await publisher.quit();
    await bus.close();
    const p50 = percentile(latency, 0.5);
    const rawP50 = percentile(rawLatency, 0.5);
    return {
      measure: `Redis: process-to-process delta latency p50 (ms), ${count} deltas`,
      result: p50.toFixed(2),
      baseline: rawP50.toFixed(2),
      'ratio to baseline': r2(p50 / rawP50),
      target: '',
    };
  } finally {
    child.kill();
    await server.stop();
  }
}

/** The receiving process: a bus subscribed with onStream, and a bare node-redis subscriber; prints arrival times. */
async function streamChild(url) {
  const { createClient } = await import('redis');
  const bus = new MessageBus(new RedisStorageBackend({ url }), new AddressedRoutingPolicy(), { room: 'procs', logLevel: 'silent' });
  await bus.connectAgent('reader');
  bus.subscribe('reader', () => {}, { onStream: (e) => e.type === 'delta' && process.stdout.write(`d ${e.seq} ${now()}\n`) });
  const subscriber = createClient({ url });
  await subscriber.connect();
  await subscriber.subscribe('raw-streams', (seq) => process.stdout.write(`r ${seq} ${now()}\n`));
  // Let the bus's stream channel subscribe before saying ready.
  await new Promise((resolve) => setTimeout(resolve, 300));
  process.stdout.write('ready\n');
  setInterval(() => {}, 60_000);
}

if (process.argv[2] === '--stream-child') await streamChild(process.argv[3]);
