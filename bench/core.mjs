// Core benchmark: the in-memory bus beside the least any bus must do per message.
// Figures are reported as ratios to the baseline measured in the same run (machines are noisy).
import { EventEmitter } from 'node:events';
import { InMemoryStorageBackend } from '../sdk/dist/backends/index.js';
import { Message, MessageBus } from '../sdk/dist/index.js';
import { BroadcastRoutingPolicy, IndividualRoutingPolicy, SubgroupRoutingPolicy } from '../sdk/dist/routing-policies/index.js';
import { allocatedPerOp } from './heap-allocated.mjs';
import { safeBusRoom } from './safe-bus-baseline.mjs';

const quick = process.env.BENCH_QUICK === '1';

/** Messages/s of `body(i)` over `n` iterations, best of `rounds` (the best round is the least disturbed by the machine). */
async function throughput(n, body, rounds = 3) {
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (let i = 0; i < n; i++) await body(i);
    best = Math.max(best, n / ((performance.now() - start) / 1000));
  }
  return best;
}

function baselineOps(n) {
  // What any bus must do per message: notify (emit), keep it (push), serialise its content.
  const emitter = new EventEmitter();
  emitter.on('message', () => {});
  let log = [];
  return throughput(n, (i) => {
    const content = { text: 'hello', i };
    emitter.emit('message', content);
    log.push(content);
    JSON.stringify(content);
    if (log.length > 100_000) log = [];
  });
}

/** The hand-written safe bus (bench/safe-bus-baseline.mjs): direct sends in a room of 10 live subscribers. */
function safeBusOps(n) {
  const bus = safeBusRoom(10);
  return throughput(n, (i) => bus.send('agent-0', { text: 'hello', i }, [`agent-${(i % 9) + 1}`]));
}

async function room(agents, policy, groupsOf = () => []) {
  const bus = new MessageBus(new InMemoryStorageBackend(), policy, { room: 'bench', logLevel: 'silent' });
  for (let i = 0; i < agents; i++) await bus.connectAgent(`agent-${i}`, { groups: groupsOf(i) });
  return bus;
}

async function sendRates(baseline, safe) {
  const rows = [];
  for (const agents of [10, 100, 1000]) {
    const n = quick ? 5_000 : agents === 1000 ? 50_000 : 100_000;
    const direct = await room(agents, new IndividualRoutingPolicy());
    const directRate = await throughput(n, (i) =>
      direct.sendMessage(new Message('agent-0', { text: 'hello', i }, [`agent-${(i % (agents - 1)) + 1}`])),
    );
    // Subgroups of 10 agents each; a message goes to one group.
    const sub = await room(agents, new SubgroupRoutingPolicy(), (i) => [`team-${Math.floor(i / 10)}`]);
    const subRate = await throughput(n, (i) =>
      sub.sendMessage(new Message('agent-0', { text: 'hello', i }, [`team-${i % (agents / 10)}`])),
    );
    const broadcast = await room(agents, new BroadcastRoutingPolicy());
    const broadcastRate = await throughput(n, (i) => broadcast.sendMessage(new Message('agent-0', { text: 'hello', i })));
    for (const [kind, rate] of [
      ['direct', directRate],
      ['subgroup (10 per group)', subRate],
      ['broadcast', broadcastRate],
    ]) {
      rows.push({
        measure: `send ${kind}`,
        agents,
        'messages/s': Math.round(rate),
        'baseline msgs/s': Math.round(baseline),
        'ratio to baseline': +(rate / baseline).toFixed(3),
        'ratio to safe bus': +(rate / safe).toFixed(3),
      });
    }
    await Promise.all([direct.close(), sub.close(), broadcast.close()]);
  }
  return rows;
}

/** The bus's direct send in the safe bus's shape: 10 agents, each with a live subscriber. */
async function liveSubscriberRate(baseline, safe) {
  const n = quick ? 5_000 : 100_000;
  const bus = await room(10, new IndividualRoutingPolicy());
  for (let i = 0; i < 10; i++) bus.subscribe(`agent-${i}`, () => {});
  const rate = await throughput(n, (i) => bus.sendMessage(new Message('agent-0', { text: 'hello', i }, [`agent-${(i % 9) + 1}`])));
  await bus.close();
  return {
    measure: 'send direct, live subscribers',
    agents: 10,
    'messages/s': Math.round(rate),
    'baseline msgs/s': Math.round(baseline),
    'ratio to baseline': +(rate / baseline).toFixed(3),
    'ratio to safe bus': +(rate / safe).toFixed(3),
  };
}

/** Heap bytes allocated per send (garbage included), each beside the two baselines: a count noise cannot move. */
async function heapPerSend() {
  const n = quick ? 20_000 : 100_000;
  const emitter = new EventEmitter();
  emitter.on('message', () => {});
  let log = [];
  const safe = safeBusRoom(10);
  const direct = await room(10, new IndividualRoutingPolicy());
  const live = await room(10, new IndividualRoutingPolicy());
  for (let i = 0; i < 10; i++) live.subscribe(`agent-${i}`, () => {});
  const broadcast = await room(10, new BroadcastRoutingPolicy());
  const cases = [
    [
      'EventEmitter baseline',
      (i) => {
        const content = { text: 'hello', i };
        emitter.emit('message', content);
        log.push(content);
        JSON.stringify(content);
        if (log.length > 100_000) log = [];
      },
    ],
    ['hand-written safe bus, direct', (i) => safe.send('agent-0', { text: 'hello', i }, [`agent-${(i % 9) + 1}`])],
    ['bus, direct', (i) => direct.sendMessage(new Message('agent-0', { text: 'hello', i }, [`agent-${(i % 9) + 1}`]))],
    ['bus, direct, live subscribers', (i) => live.sendMessage(new Message('agent-0', { text: 'hello', i }, [`agent-${(i % 9) + 1}`]))],
    ['bus, broadcast', (i) => broadcast.sendMessage(new Message('agent-0', { text: 'hello', i }))],
  ];
  const rows = [];
  let emitterBytes;
  let safeBytes;
  for (const [what, body] of cases) {
    const bytes = await allocatedPerOp(n, body);
    emitterBytes ??= bytes;
    if (what.startsWith('hand-written')) safeBytes = bytes;
    rows.push({
      measure: `heap bytes allocated per send: ${what}`,
      agents: 10,
      'bytes/send': Math.round(bytes),
      'ratio to baseline': +(bytes / emitterBytes).toFixed(2),
      ...(safeBytes === undefined ? {} : { 'ratio to safe bus': +(bytes / safeBytes).toFixed(2) }),
    });
  }
  await Promise.all([direct.close(), live.close(), broadcast.close()]);
  return rows;
}

async function fetchLatencies() {
  const sizes = quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000];
  const results = [];
  for (const size of sizes) {
    const bus = await room(3, new IndividualRoutingPolicy());
    for (let i = 1; i <= size; i++) await bus.sendMessage(new Message('agent-0', i, [i % 100 === 0 ? 'agent-1' : 'agent-2']));
    const samples = [];
    for (let r = 0; r < 2000; r++) {
      const after = Math.floor(Math.random() * (size - 10_000));
      const start = performance.now();
      await bus.fetchMessages('agent-1', after, { limit: 100 });
      samples.push(performance.now() - start);
    }
    samples.sort((a, b) => a - b);
    results.push({ size, p50: samples[samples.length >> 1], p99: samples[Math.floor(samples.length * 0.99)] });
    await bus.close();
  }
  const base = results[0];
  return results.map((r) => ({
    measure: 'fetch 100 of 1% addressed',
    'room messages': r.size,
    'p50 µs': +(r.p50 * 1000).toFixed(1),
    'p99 µs': +(r.p99 * 1000).toFixed(1),
    'p50 ratio to 10k room': +(r.p50 / base.p50).toFixed(2),
  }));
}

async function broadcastBytes() {
  const rows = [];
  let at10;
  for (const agents of [10, 100, 1000]) {
    const bus = await room(agents, new BroadcastRoutingPolicy());
    const n = quick ? 5_000 : 50_000;
    // Warm-up: every agent sends once, which builds the shared "everyone but me" list per sender (agents x agents
    // ids, once per membership change). What follows measures what each further broadcast adds.
    global.gc?.();
    const cold = process.memoryUsage().heapUsed;
    for (let i = 0; i < agents; i++) await bus.sendMessage(new Message(`agent-${i}`, 'hi'));
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < n; i++) await bus.sendMessage(new Message(`agent-${i % agents}`, 'hi'));
    global.gc?.();
    const bytes = (process.memoryUsage().heapUsed - before) / n;
    at10 ??= bytes;
    rows.push({
      measure: 'bytes kept per broadcast',
      agents,
      'bytes/message': Math.round(bytes),
      'ratio to 10 agents': +(bytes / at10).toFixed(2),
      'one-off per-sender lists (KiB)': Math.round((before - cold) / 1024),
    });
    await bus.close();
  }
  return rows;
}

export async function run() {
  if (!global.gc) throw new Error('run with node --expose-gc (npm run bench does)');
  const baseline = await baselineOps(quick ? 50_000 : 300_000);
  const safe = await safeBusOps(quick ? 20_000 : 200_000);
  const rows = [
    { measure: 'baseline: EventEmitter emit + array push + JSON.stringify', 'messages/s': Math.round(baseline) },
    {
      measure: 'baseline: hand-written safe bus, direct (bench/safe-bus-baseline.mjs)',
      agents: 10,
      'messages/s': Math.round(safe),
      'baseline msgs/s': Math.round(baseline),
      'ratio to baseline': +(safe / baseline).toFixed(3),
    },
    ...(await sendRates(baseline, safe)),
    await liveSubscriberRate(baseline, safe),
    ...(await heapPerSend()),
    ...(await fetchLatencies()),
    ...(await broadcastBytes()),
  ];
  const direct = rows.filter((r) => r.measure === 'send direct');
  const fetches = rows.filter((r) => r.measure?.startsWith('fetch'));
  const bytes = rows.filter((r) => r.measure === 'bytes kept per broadcast');
  const live = rows.find((r) => r.measure === 'send direct, live subscribers');
  const heap = rows.filter((r) => r.measure.startsWith('heap bytes'));
  const notes = [
    `safe bus = bench/safe-bus-baseline.mjs: id and membership checks, the 64 KiB limit, a JSON copy, a deep freeze, an id, a log append and delivery to live subscribers behind an async send; nothing else (no policies, metrics, idempotency or storage interface). It runs at ${rows[1]['ratio to baseline']} of the EventEmitter baseline.`,
    `direct send with live subscribers (10 agents) / safe bus: ${live['ratio to safe bus']} (target >= 1), / EventEmitter baseline: ${live['ratio to baseline']} (target >= 0.333)`,
    `heap bytes allocated per send (V8 GC profiler, garbage included, the caller's Message and content counted on every side): ${heap.map((r) => `${r.measure.slice('heap bytes allocated per send: '.length)} ${r['bytes/send']}`).join(', ')}`,
    `direct send / baseline: ${direct.map((r) => `${r.agents} agents ${r['ratio to baseline']}`).join(', ')} (target >= 0.333)`,
    `fetch p50 at ${fetches.at(-1)['room messages']} / at 10k: ${fetches.at(-1)['p50 ratio to 10k room']} (target <= 2)`,
    `bytes per broadcast at 1000 agents / at 10 agents: ${bytes.at(-1)['ratio to 10 agents']} (flat means the audience is stored once)`,
  ];
  return { title: 'core: in-memory MessageBus', rows, notes };
}
