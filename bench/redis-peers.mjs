// Redis peer benchmark: Node processes talking through one real redis-server, at a fixed offered load.
// - bus: two sender processes and one subscriber process, each a MessageBus on RedisStorageBackend, one
//   broadcast room (every message goes to the subscriber and the other sender).
// - Socket.IO 4 with @socket.io/redis-adapter: two server processes, a sender client on each, a subscriber
//   client on server A; the server relays each message with `socket.broadcast.emit`. Messages of the sender on
//   server B reach the subscriber through Redis: that is the cross-server path the comparison is about.
// Latency is send → subscriber callback, on the machine's monotonic clock (process.hrtime, shared by every
// process). Beside it, the work per message Redis did, from INFO commandstats and INFO cpu deltas.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { Server } from 'socket.io';
import { io as connectSocketIo } from 'socket.io-client';
import { startRedis } from '../scripts/support/redis-server.mjs';
import { RedisStorageBackend } from '../sdk/dist/backends/index.js';
import { Message, MessageBus } from '../sdk/dist/index.js';
import { BroadcastRoutingPolicy } from '../sdk/dist/routing-policies/index.js';

const quick = process.env.BENCH_QUICK === '1';
const RATE = 2_000; // offered msgs/s, both senders together
const DURATION_MS = quick ? 1_500 : 4_000;
const WARM_UP_MS = 500; // sent, but left out of the latency figures
const ROUNDS = quick ? 1 : 3;
const DRAIN_MS = 3_000; // how long the subscriber may lag behind the last send
const SENDERS = ['a', 'b'];

export async function run() {
  const redis = await startRedis();
  const rounds = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? ['bus', 'socketio'] : ['socketio', 'bus'];
      const result = {};
      for (const system of order) result[system] = await (system === 'bus' ? busRound : socketIoRound)(redis.url, round);
      rounds.push(result);
    }
  } finally {
    await redis.stop();
  }
  return report(rounds);
}

// --- the table ---

function report(rounds) {
  const med = (pick) => median(rounds.map(pick));
  const ratioRange = (a, b) => {
    const rs = rounds.map((r) => a(r) / b(r));
    return { median: Number(short(median(rs))), range: `${short(Math.min(...rs))}–${short(Math.max(...rs))}` };
  };
  const timing = (measure, bus, sio, unit) => {
    const r = ratioRange(bus, sio);
    return {
      measure,
      bus: unit(med(bus)),
      'Socket.IO': unit(med(sio)),
      'bus/Socket.IO': r.median,
      [`range (${rounds.length} rounds)`]: r.range,
    };
  };
  const work = (measure, key, digits = 2) => {
    const of = (system) => (typeof key === 'function' ? key(system) : key);
    const per = (system) => rounds.reduce((s, r) => s + r[system].work[of(system)], 0) / rounds.reduce((s, r) => s + r[system].sent, 0);
    const bus = per('bus');
    const sio = per('socketio');
    return {
      measure,
      bus: +bus.toFixed(digits),
      'Socket.IO': +sio.toFixed(digits),
      'bus/Socket.IO': sio === 0 ? 'n/a' : +(bus / sio).toFixed(2),
      [`range (${rounds.length} rounds)`]: 'work count',
    };
  };
  const cross = (system) => (r) => r[system].latency.cross;
  const all = (system) => (r) => r[system].latency.all;
  const rows = [
    timing(
      'p50 latency, bus vs Socket.IO cross-server (ms)',
      (r) => all('bus')(r).p50,
      (r) => cross('socketio')(r).p50,
      ms,
    ),
    timing(
      'p99 latency, bus vs Socket.IO cross-server (ms)',
      (r) => all('bus')(r).p99,
      (r) => cross('socketio')(r).p99,
      ms,
    ),
    timing(
      'p50 latency, both, all messages (ms)',
      (r) => all('bus')(r).p50,
      (r) => all('socketio')(r).p50,
      ms,
    ),
    timing(
      'delivered msgs/s at the subscriber',
      (r) => r.bus.deliveredRate,
      (r) => r.socketio.deliveredRate,
      Math.round,
    ),
    timing(
      'delivered / sent (%)',
      (r) => (100 * r.bus.delivered) / r.bus.sent,
      (r) => (100 * r.socketio.delivered) / r.socketio.sent,
      (n) => +n.toFixed(1),
    ),
    {
      measure: 'deliveries out of order or after a gap (all rounds)',
      bus: rounds.reduce((s, r) => s + r.bus.outOfOrder + r.bus.gaps, 0),
      'Socket.IO': rounds.reduce((s, r) => s + r.socketio.outOfOrder + r.socketio.gaps, 0),
      'bus/Socket.IO': '—',
      [`range (${rounds.length} rounds)`]: 'count',
    },
    {
      measure: 'subscriber fetches per delivered message (gap fills; the rest is delivered as published)',
      bus: +(rounds.reduce((s, r) => s + r.bus.fetches, 0) / rounds.reduce((s, r) => s + r.bus.delivered, 0)).toFixed(4),
      'Socket.IO': 'n/a',
      'bus/Socket.IO': '—',
      [`range (${rounds.length} rounds)`]: 'work count',
    },
    work('Redis script calls per message (EVALSHA/EVAL/FCALL)', 'scripts'),
    work('Redis commands per message (incl. those inside scripts)', 'commands'),
    work('Redis requests per message (bus: scripts; Socket.IO: PUBLISH)', (system) => (system === 'bus' ? 'scripts' : 'publish')),
    work('Redis CPU µs per message (INFO cpu)', 'cpuUs', 1),
    work('Redis wall µs per message in scripts (commandstats usec)', 'scriptUs', 1),
  ];
  const [p50] = rows;
  const notes = [
    `Offered load ${RATE.toLocaleString('en-US')} msgs/s (${RATE / SENDERS.length} per sender) for ${DURATION_MS / 1000}s per system and round, ${rounds.length} alternating rounds (who goes first alternates); the first ${WARM_UP_MS} ms are left out of the latencies. Ratios are per round; the median and the range are over the rounds.`,
    'bus: MessageBus.sendMessage in two sender processes (not awaited one by one: the load is offered at a fixed rate), MessageBus.subscribe in a third; one broadcast room of three members on RedisStorageBackend. Socket.IO: two servers with @socket.io/redis-adapter (node-redis clients), websocket transport, `socket.broadcast.emit` relay; the bus has no server hop, Socket.IO has two (client → server, server → client).',
    'Socket.IO cross-server = messages of the sender on server B, which reach the subscriber on server A only through Redis pub/sub; messages of the sender on A go to the subscriber in-process.',
    'What Socket.IO with the Redis adapter does not guarantee, and the bus does: no message ids or order across servers, no history (nothing is stored), no replay after a dropped connection or a Redis blip (pub/sub is fire-and-forget), no idempotency, no members, no auth unless you add middleware. The work rows show what the bus pays for storing, ordering and indexing each message atomically.',
    'Work counts: deltas of INFO commandstats and INFO cpu over each system\'s phase, divided by the messages sent (the INFO calls themselves excluded). Redis 7 counts the commands a script runs in commandstats too, so "incl. those inside scripts" is every command Redis executed. Requests are what the clients send per message: the bus sends scripts (its PUBLISH runs inside the append script; the sends a paced sender issues in one timer tick go as one script call, group commit), Socket.IO sends one PUBLISH. commandstats usec is wall time inside Redis and grows when the machine preempts it; INFO cpu is the CPU Redis used.',
    `Goals (issue 10): p50 bus/Socket.IO cross-server ≤ 1.0 (${p50['bus/Socket.IO']} now), gap-free in-order delivery kept; append script Redis CPU per message cut by at least 2x (see the µs rows, and redis-instructions for the count per message alone and per call size).`,
  ];
  return { title: 'Redis peers: bus vs Socket.IO 4 + @socket.io/redis-adapter, fixed offered load', rows, notes, rounds };
}

// --- one round of each system ---

async function busRound(url, round) {
  const room = `peers-${round}-${Date.now().toString(36)}`;
  const subscriber = child('bus-subscriber', { url, room });
  await subscriber.next(); // subscribed
  const senders = SENDERS.map((id) => child('bus-sender', { url, room, id }));
  await Promise.all(senders.map((s) => s.next())); // connected
  return runLoad(url, subscriber, senders);
}

async function socketIoRound(url) {
  const servers = ['A', 'B'].map((name) => child('sio-server', { url, name }));
  const [portA, portB] = await Promise.all(servers.map(async (s) => JSON.parse(await s.next()).port));
  const subscriber = child('sio-subscriber', { server: `http://127.0.0.1:${portA}` });
  await subscriber.next();
  const senders = [
    child('sio-sender', { server: `http://127.0.0.1:${portA}`, id: 'a' }),
    child('sio-sender', { server: `http://127.0.0.1:${portB}`, id: 'b' }),
  ];
  await Promise.all(senders.map((s) => s.next()));
  await sleep(200); // the adapters' pub/sub subscriptions settle
  try {
    return await runLoad(url, subscriber, senders, 'b');
  } finally {
    for (const server of servers) server.stop();
    await Promise.all(servers.map((s) => s.exited));
  }
}

/** Starts the senders at once, waits for them, lets the subscriber drain, and collects its figures and Redis's work. */
async function runLoad(url, subscriber, senders, crossSender) {
  const info = createClient({ url });
  info.on('error', () => {});
  await info.connect();
  const before = await redisWork(info);
  const start = hrMs() + 50;
  for (const s of senders) s.write({ start, rate: RATE / senders.length, durationMs: DURATION_MS });
  const sent = (await Promise.all(senders.map(async (s) => JSON.parse(await s.next())))).reduce((a, b) => a + b.sent, 0);
  subscriber.write({ expected: sent, start, crossSender: crossSender ?? null });
  const figures = JSON.parse(await subscriber.next());
  const after = await quiet(info);
  await info.close();
  for (const p of [...senders, subscriber]) p.stop();
  await Promise.all([...senders, subscriber].map((p) => p.exited));
  const work = {};
  for (const key of Object.keys(after)) work[key] = after[key] - before[key];
  return { sent, ...figures, work };
}

/** Redis's counters once the processes stopped sending (a loaded server may still be publishing what it relayed). */
async function quiet(client) {
  let last = await redisWork(client);
  for (let waited = 0; waited < 5_000; waited += 200) {
    await sleep(200);
    const now = await redisWork(client);
    if (now.commands === last.commands) return now;
    last = now;
  }
  return last;
}

/** Redis's counters: every command (script-internal ones included, as Redis 7 counts them), scripts, PUBLISH, CPU. */
async function redisWork(client) {
  const stats = parseInfo(await client.sendCommand(['INFO', 'commandstats']));
  const cpu = parseInfo(await client.sendCommand(['INFO', 'cpu']));
  const work = { commands: 0, scripts: 0, publish: 0, scriptUs: 0, cpuUs: 0 };
  for (const [key, value] of Object.entries(stats)) {
    if (!key.startsWith('cmdstat_') || key === 'cmdstat_info') continue;
    const calls = Number(/calls=(\d+)/.exec(value)[1]);
    work.commands += calls;
    if (key === 'cmdstat_publish') work.publish += calls;
    if (/^cmdstat_(evalsha|eval|evalsha_ro|eval_ro|fcall|fcall_ro)$/.test(key)) {
      work.scripts += calls;
      work.scriptUs += Number(/usec=(\d+)/.exec(value)[1]);
    }
  }
  work.cpuUs = (Number(cpu.used_cpu_user) + Number(cpu.used_cpu_sys)) * 1e6;
  return work;
}

function parseInfo(text) {
  const out = {};
  for (const line of String(text).split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) out[line.slice(0, at)] = line.slice(at + 1);
  }
  return out;
}

// --- child processes: one role each, JSON lines on stdio ---

function child(role, params) {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), '--peer', role, JSON.stringify(params)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const queue = [];
  let waiting;
  let partial = '';
  proc.stdout.setEncoding('utf8').on('data', (chunk) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop();
    for (const line of parts) {
      if (waiting) {
        waiting.resolve(line);
        waiting = undefined;
      } else queue.push(line);
    }
  });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  exited.then((code) => waiting?.reject(new Error(`${role} exited (${code}) before answering`)));
  return {
    exited,
    next: () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((resolve, reject) => (waiting = { resolve, reject }))),
    write: (value) => proc.stdin.write(`${JSON.stringify(value)}\n`),
    stop: () => proc.exitCode === null && proc.kill('SIGTERM'),
  };
}

const roles = {
  async 'bus-subscriber'({ url, room }) {
    const bus = await openBus(url, room, 'subscriber');
    // Fetches are how the subscription fills a gap; a message Redis published with the next id is delivered as is.
    let fetches = 0;
    const fetch = bus.storage.fetch.bind(bus.storage);
    bus.storage.fetch = (...args) => {
      fetches++;
      return fetch(...args);
    };
    const latencies = new Collector();
    // The bus promises id order without gaps (concurrent sends of one process have no order among themselves).
    bus.subscribe('subscriber', (message) => latencies.add(message.content, 'room', message.id));
    await sleep(100);
    fetches = 0; // the replay at subscribe time is not part of the load
    say('subscribed');
    const { expected, start } = await heard();
    const figures = await latencies.settle(expected, start, null);
    say(JSON.stringify({ ...figures, fetches }));
  },
  async 'bus-sender'({ url, room, id }) {
    const bus = await openBus(url, room, `sender-${id}`);
    await bus.sendMessage(new Message(`sender-${id}`, 'warm-up'));
    say('connected');
    const { start, rate, durationMs } = await heard();
    let failed = 0;
    const pending = [];
    const sent = await paced(start, rate, durationMs, (i) =>
      pending.push(
        bus.sendMessage(new Message(`sender-${id}`, { s: id, i, t: hrMs() })).catch(() => {
          failed++;
        }),
      ),
    );
    await Promise.all(pending);
    if (failed > 0) throw new Error(`${failed} of ${sent} bus sends failed`);
    say(JSON.stringify({ sent }));
  },
  async 'sio-server'({ url }) {
    const pub = createClient({ url });
    const sub = pub.duplicate();
    pub.on('error', () => {});
    sub.on('error', () => {});
    await Promise.all([pub.connect(), sub.connect()]);
    const server = new Server({ transports: ['websocket'], serveClient: false });
    server.adapter(createAdapter(pub, sub));
    server.on('connection', (socket) => socket.on('msg', (data) => socket.broadcast.emit('msg', data)));
    const http = (await import('node:http')).createServer();
    server.attach(http);
    await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
    say(JSON.stringify({ port: http.address().port }));
  },
  async 'sio-subscriber'({ server }) {
    const socket = await openSocketIo(server);
    const latencies = new Collector();
    // Socket.IO keeps each sender's order; there is no room-wide order to check.
    socket.on('msg', (data) => latencies.add(data, data.s, data.i));
    say('subscribed');
    const { expected, start, crossSender } = await heard();
    say(JSON.stringify(await latencies.settle(expected, start, crossSender)));
  },
  async 'sio-sender'({ server, id }) {
    const socket = await openSocketIo(server);
    say('connected');
    const { start, rate, durationMs } = await heard();
    const sent = await paced(start, rate, durationMs, (i) => socket.emit('msg', { s: id, i, t: hrMs() }));
    await sleep(50); // let the last frames leave the socket
    say(JSON.stringify({ sent }));
  },
};

/** Collects send → receive latencies and counts; `settle` waits for `expected` messages (or DRAIN_MS of silence). */
class Collector {
  count = 0;
  first = Number.POSITIVE_INFINITY;
  last = 0;
  outOfOrder = 0;
  gaps = 0;
  #samples = [];
  #lastOf = new Map();
  /** `stream` and `seq`: the order the system promises (the room's ids for the bus, each sender's count for Socket.IO). */
  add(content, stream, seq) {
    const previous = this.#lastOf.get(stream);
    if (previous !== undefined && seq <= previous) this.outOfOrder++;
    else if (previous !== undefined && seq > previous + 1) this.gaps++;
    this.#lastOf.set(stream, Math.max(seq, previous ?? seq));
    if (typeof content !== 'object' || content === null || typeof content.t !== 'number') return; // the bus's warm-up sends
    const now = hrMs();
    this.count++;
    this.first = Math.min(this.first, content.t);
    this.last = now;
    this.#samples.push([content.s, content.t, now - content.t]);
  }
  async settle(expected, start, crossSender) {
    let quiet = 0;
    while (this.count < expected && quiet < DRAIN_MS) {
      const before = this.count;
      await sleep(50);
      quiet = this.count === before ? quiet + 50 : 0;
    }
    const all = [];
    const cross = [];
    for (const [sender, sentAt, latency] of this.#samples) {
      if (sentAt < start + WARM_UP_MS) continue;
      all.push(latency);
      if (sender === crossSender) cross.push(latency);
    }
    return {
      delivered: this.count,
      outOfOrder: this.outOfOrder,
      gaps: this.gaps,
      deliveredRate: this.count / ((this.last - Math.max(start, this.first)) / 1000),
      latency: { all: quantiles(all), cross: crossSender === null ? quantiles(all) : quantiles(cross) },
    };
  }
}

async function openBus(url, room, agent) {
  const storage = new RedisStorageBackend({ url, commandTimeoutMs: 10_000 });
  const bus = new MessageBus(storage, new BroadcastRoutingPolicy(), { room, logLevel: 'silent' });
  await bus.connectAgent(agent);
  return bus;
}

function openSocketIo(server) {
  const socket = connectSocketIo(server, { transports: ['websocket'], reconnection: false });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

/** Calls `send(i)` `rate` times a second from `start` (hrMs) for `durationMs`, catching up after each timer tick. */
async function paced(start, rate, durationMs, send) {
  while (hrMs() < start) await sleep(1);
  let sent = 0;
  const total = Math.round((rate * durationMs) / 1000);
  while (sent < total) {
    const due = Math.min(total, Math.floor(((hrMs() - start) * rate) / 1000) + 1);
    while (sent < due) send(sent++);
    await sleep(1);
  }
  return sent;
}

function quantiles(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), n: sorted.length };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const hrMs = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const ms = (n) => Number(n.toFixed(2));
/** Two significant digits, without exponents. */
const short = (n) => (n >= 100 ? String(Math.round(n)) : String(Number(n.toPrecision(2))));
const say = (line) => process.stdout.write(`${line}\n`);

let stdinLines;
/** The next JSON line from the parent. */
function heard() {
  stdinLines ??= (async function* () {
    let partial = '';
    for await (const chunk of process.stdin.setEncoding('utf8')) {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop();
      for (const line of parts) yield JSON.parse(line);
    }
  })();
  return stdinLines.next().then((r) => r.value);
}

if (process.argv[2] === '--peer') {
  const [, , , role, params] = process.argv;
  process.on('SIGTERM', () => process.exit(0));
  await roles[role](JSON.parse(params));
}
