// Core benchmark: the in-memory bus beside the least any bus must do per message.
// Figures are reported as ratios to the baseline measured in the same run (machines are noisy).
import { EventEmitter } from 'node:events';
import { InMemoryStorageBackend } from '../sdk/dist/backends/index.js';
import { Message, MessageBus } from '../sdk/dist/index.js';
import { BroadcastRoutingPolicy, IndividualRoutingPolicy, SubgroupRoutingPolicy } from '../sdk/dist/routing-policies/index.js';
import { gcDeoptRows } from './gc-deopts.mjs';
import { allocatedPerOp } from './heap-allocated.mjs';
import { runtimeCallRows } from './runtime-calls.mjs';
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

/** The headline cases, each a fresh room: [name, agents, body(i)] once built. */
async function headlineCases() {
  const live = await room(10, new IndividualRoutingPolicy());
  for (let i = 0; i < 10; i++) live.subscribe(`agent-${i}`, () => {});
  const direct10 = await room(10, new IndividualRoutingPolicy());
  const direct100 = await room(100, new IndividualRoutingPolicy());
  const sub100 = await room(100, new SubgroupRoutingPolicy(), (i) => [`team-${Math.floor(i / 10)}`]);
  const broadcast100 = await room(100, new BroadcastRoutingPolicy());
  const liveBroadcast = await room(10, new BroadcastRoutingPolicy());
  for (let i = 0; i < 10; i++) liveBroadcast.subscribe(`agent-${i}`, () => {});
  const direct = (bus, agents) => (i) => bus.sendMessage(new Message('agent-0', { text: 'hello', i }, [`agent-${(i % (agents - 1)) + 1}`]));
  const cases = [
    ['send direct, live subscribers', 10, direct(live, 10)],
    ['send direct', 10, direct(direct10, 10)],
    ['send direct', 100, direct(direct100, 100)],
    ['send subgroup (10 per group)', 100, (i) => sub100.sendMessage(new Message('agent-0', { text: 'hello', i }, [`team-${i % 10}`]))],
    ['send broadcast', 100, (i) => broadcast100.sendMessage(new Message('agent-0', { text: 'hello', i }))],
    ['send broadcast, live subscribers', 10, (i) => liveBroadcast.sendMessage(new Message('agent-0', { text: 'hello', i }))],
  ];
  const close = () => Promise.all([live, direct10, direct100, sub100, broadcast100, liveBroadcast].map((b) => b.close()));
  return { cases, close };
}

/**
 * Alternating rounds: in each round every case runs one chunk right after a chunk of each baseline, so a ratio
 * compares figures measured seconds apart under the same load; the order is reversed every other round. Reports
 * the median and range of each ratio over the rounds.
 */
async function alternatingRounds() {
  const rounds = quick ? 3 : 6;
  const chunk = quick ? 3_000 : 20_000;
  const ee = emitterBaseline();
  const safe = safeBusRoom(10);
  const safeBody = (i) => safe.send('agent-0', { text: 'hello', i }, [`agent-${(i % 9) + 1}`]);
  const { cases, close } = await headlineCases();
  for (const [, , body] of cases) await rateOf(body, 2_000, 0); // warm up
  const ratios = cases.map(() => ({ baseline: [], safe: [], rate: [], cpuBaseline: [], cpuSafe: [], cpuRate: [] }));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...cases.keys()].reverse() : [...cases.keys()];
    const from = 10_000 + r * chunk;
    for (const c of order) {
      global.gc?.();
      const baseline = await rateOf(ee, chunk * 3, from);
      const safe = await rateOf(safeBody, chunk, from);
      const rate = await rateOf(cases[c][2], chunk, from);
      ratios[c].baseline.push(rate.wall / baseline.wall);
      ratios[c].safe.push(rate.wall / safe.wall);
      ratios[c].rate.push(rate.wall);
      ratios[c].cpuBaseline.push(rate.cpu / baseline.cpu);
      ratios[c].cpuSafe.push(rate.cpu / safe.cpu);
      ratios[c].cpuRate.push(rate.cpu);
    }
  }
  await close();
  const rows = cases.map(([measure, agents], c) => ({
    measure: `${measure} (alternating rounds)`,
    agents,
    'messages/s': Math.round(median(ratios[c].rate)),
    'ratio to baseline': +median(ratios[c].baseline).toFixed(3),
    'baseline range': range(ratios[c].baseline),
    'ratio to safe bus': +median(ratios[c].safe).toFixed(3),
    'safe bus range': range(ratios[c].safe),
    'CPU-time ratio to baseline': +median(ratios[c].cpuBaseline).toFixed(3),
    'CPU-time ratio to safe bus': +median(ratios[c].cpuSafe).toFixed(3),
  }));
  // Same-round ratios to the direct send in the same room size: the rounds' loads cancel out.
  const slower = (per, c, d) => per(c).map((rate, r) => per(d)[r] / rate);
  const wall = (c) => ratios[c].rate;
  const cpu = (c) => ratios[c].cpuRate;
  return {
    rows,
    rounds,
    ratios,
    subgroupVsDirect: slower(wall, 3, 2),
    broadcastVsDirect: slower(wall, 4, 2),
    cpuSubgroupVsDirect: slower(cpu, 3, 2),
    cpuBroadcastVsDirect: slower(cpu, 4, 2),
  };
}

function emitterBaseline() {
  const emitter = new EventEmitter();
  emitter.on('message', () => {});
  let log = [];
  return (i) => {
    const content = { text: 'hello', i };
    emitter.emit('message', content);
    log.push(content);
    JSON.stringify(content);
    if (log.length > 100_000) log = [];
  };
}

/**
 * Messages/s of `body` over ids `from`..`from + n`, by the clock and by the process's CPU time. On a shared
 * machine the clock also counts the time other processes had the core; CPU time counts only this process's work
 * (its GC threads included), so its ratios move less with the load.
 */
async function rateOf(body, n, from) {
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  for (let i = from; i < from + n; i++) await body(i);
  const cpu = process.cpuUsage(cpuStart);
  return { wall: n / ((performance.now() - start) / 1000), cpu: n / ((cpu.user + cpu.system) / 1e6) };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

function range(values) {
  return `${Math.min(...values).toFixed(3)}-${Math.max(...values).toFixed(3)}`;
}

/**
 * Storage fetches per send in a room of 10 live subscribers, counted on a wrapped backend: the work a
 * subscription does for messages it is (or is not) routed. A caught-up subscription should need none.
 */
async function fetchesPerSend() {
  const storage = new InMemoryStorageBackend();
  let fetches = 0;
  const fetch = storage.fetch.bind(storage);
  storage.fetch = (...args) => {
    fetches++;
    return fetch(...args);
  };
  const bus = new MessageBus(storage, new IndividualRoutingPolicy(), { room: 'bench', logLevel: 'silent' });
  for (let i = 0; i < 10; i++) await bus.connectAgent(`agent-${i}`);
  let delivered = 0;
  for (let i = 0; i < 10; i++) bus.subscribe(`agent-${i}`, () => void delivered++);
  const n = quick ? 2_000 : 20_000;
  const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
  await settle();
  const before = fetches;
  for (let i = 0; i < n; i++) await bus.sendMessage(new Message('agent-0', { i }, [`agent-${(i % 9) + 1}`]));
  await settle();
  await bus.close();
  return {
    measure: 'storage fetches per send: direct, 10 live subscribers',
    agents: 10,
    'fetches/send': +((fetches - before) / n).toFixed(4),
    'deliveries/send': +(delivered / n).toFixed(3),
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
  const liveBroadcast = await room(10, new BroadcastRoutingPolicy());
  for (let i = 0; i < 10; i++) liveBroadcast.subscribe(`agent-${i}`, () => {});
  const sub = await room(100, new SubgroupRoutingPolicy(), (i) => [`team-${Math.floor(i / 10)}`]);
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
    ['bus, broadcast, live subscribers', (i) => liveBroadcast.sendMessage(new Message('agent-0', { text: 'hello', i }))],
    ['bus, subgroup of 10 (100 agents)', (i) => sub.sendMessage(new Message('agent-0', { text: 'hello', i }, [`team-${i % 10}`]))],
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
  await Promise.all([direct, live, broadcast, liveBroadcast, sub].map((bus) => bus.close()));
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
  const alternating = await alternatingRounds();
  const rows = [
    { measure: 'baseline: EventEmitter emit + array push + JSON.stringify', 'messages/s': Math.round(baseline) },
    {
      measure: 'baseline: hand-written safe bus, direct (bench/safe-bus-baseline.mjs)',
      agents: 10,
      'messages/s': Math.round(safe),
      'baseline msgs/s': Math.round(baseline),
      'ratio to baseline': +(safe / baseline).toFixed(3),
    },
    ...alternating.rows,
    ...(await sendRates(baseline, safe)),
    await fetchesPerSend(),
    ...(await heapPerSend()),
    ...gcDeoptRows(),
    ...runtimeCallRows(),
    ...(await fetchLatencies()),
    ...(await broadcastBytes()),
  ];
  const direct = rows.filter((r) => r.measure === 'send direct');
  const fetches = rows.filter((r) => r.measure?.startsWith('fetch'));
  const bytes = rows.filter((r) => r.measure === 'bytes kept per broadcast');
  const live = alternating.rows[0];
  const heap = rows.filter((r) => r.measure.startsWith('heap bytes'));
  const wakeups = rows.find((r) => r.measure.startsWith('storage fetches per send'));
  const [busDeopts, safeDeopts] = rows.filter((r) => r.deopts !== undefined);
  const [busCalls, safeCalls] = rows.filter((r) => r['clock reads/send'] !== undefined);
  const calls = (r) =>
    `${r['Object.freeze/send']} Object.freeze, ${r['Object.isFrozen/send']} Object.isFrozen, ${r['clock reads/send']} clock reads`;
  const bySize = (kind) =>
    direct.map(
      (d) =>
        `${d.agents} agents ${(d['messages/s'] / rows.find((r) => r.measure === `send ${kind}` && r.agents === d.agents)['messages/s']).toFixed(2)}x`,
    );
  const fmt = (values) => `${median(values).toFixed(2)}x (${range(values)})`;
  const ratioOf = (values) => `${median(values).toFixed(3)} (${range(values)})`;
  const notes = [
    `safe bus = bench/safe-bus-baseline.mjs: id and membership checks, the 64 KiB limit, a JSON copy, a deep freeze, an id, a log append and delivery to live subscribers behind an async send; nothing else (no policies, metrics, idempotency or storage interface). It runs at ${rows[1]['ratio to baseline']} of the EventEmitter baseline.`,
    `direct send with live subscribers (10 agents), median of ${alternating.rounds} alternating rounds / safe bus: ${live['ratio to safe bus']} (${live['safe bus range']}; target >= 1), / EventEmitter baseline: ${live['ratio to baseline']} (${live['baseline range']}; target >= 0.333)`,
    `the same by CPU time (steadier on a loaded machine): direct with live subscribers / safe bus ${ratioOf(alternating.ratios[0].cpuSafe)} (target >= 1), / EventEmitter baseline ${ratioOf(alternating.ratios[0].cpuBaseline)} (target >= 0.333)`,
    `time per send against direct, 100 agents, same rounds: subgroup ${fmt(alternating.subgroupVsDirect)}, broadcast ${fmt(alternating.broadcastVsDirect)}; by CPU time subgroup ${fmt(alternating.cpuSubgroupVsDirect)}, broadcast ${fmt(alternating.cpuBroadcastVsDirect)} (target: within 1.5x)`,
    `best-of-3 runs, time per send against direct at the same size: subgroup ${bySize('subgroup (10 per group)').join(', ')}; broadcast ${bySize('broadcast').join(', ')}`,
    `storage fetches per send with 10 live subscribers: ${wakeups['fetches/send']} (a subscription takes the next id as it is stored and fetches only on a gap; it is not woken for messages routed to others)`,
    `heap bytes allocated per send (V8 GC profiler, garbage included, the caller's Message and content counted on every side): ${heap.map((r) => `${r.measure.slice('heap bytes allocated per send: '.length)} ${r['bytes/send']}`).join(', ')}`,
    `optimised send-path functions thrown away by full GCs ("weak objects" deoptimisations over 5 forced GCs): bus ${busDeopts.deopts} (${busDeopts.which}), safe bus ${safeDeopts.deopts} (40-48 before the draft and message classes kept their hidden classes alive)`,
    `runtime and clock calls per direct send (counted in a child process): bus ${calls(busCalls)}; safe bus ${calls(safeCalls)} (the bus made 5 and 3 freezes and checks before one-id lists and routing decisions were shared; its 3 clock reads are the timestamp and the send histogram's two ends)`,
    `direct send / baseline: ${direct.map((r) => `${r.agents} agents ${r['ratio to baseline']}`).join(', ')} (target >= 0.333)`,
    `fetch p50 at ${fetches.at(-1)['room messages']} / at 10k: ${fetches.at(-1)['p50 ratio to 10k room']} (target <= 2)`,
    `bytes per broadcast at 1000 agents / at 10 agents: ${bytes.at(-1)['ratio to 10 agents']} (flat means the audience is stored once)`,
  ];
  return { title: 'core: in-memory MessageBus', rows, notes };
}
