// Redis's work per append, counted in instructions: redis-server runs under valgrind (callgrind), which counts
// every instruction it executes, so the figure does not move with the machine's load the way µs do. The append
// script (a broadcast and a direct message, as the bus sends them) stands beside two baselines in the same
// server: an EVALSHA of `return 1` with the same arguments (what any script call costs), and a script that only
// PUBLISHes the message (what live delivery costs). Three pub/sub subscribers listen, as in redis-peers.
// Needs valgrind (apt-get install valgrind); without it the case reports that and nothing else.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createClient } from 'redis';
import { freePort } from '../scripts/support/ports.mjs';
import { startRedis } from '../scripts/support/redis-server.mjs';
import { RedisStorageBackend } from '../sdk/dist/backends/index.js';
import { MessageCodec } from '../sdk/dist/backends/redis/codec.js';
import { APPEND } from '../sdk/dist/backends/redis/scripts/append.js';
import { Message, MessageBus } from '../sdk/dist/index.js';
import { AddressedRoutingPolicy } from '../sdk/dist/routing-policies/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.env.BENCH_QUICK === '1';
const N = quick ? 500 : 2_000; // appends counted per script (valgrind runs Redis ~50x slower)
const ROOM = 'work';
const PREFIX = `bench:{${ROOM}}:`;
const EMPTY = 'return 1';
const PUBLISH_ONLY = `redis.call('PUBLISH', ARGV[1] .. 'live', ARGV[5])\nreturn 1`;
const WRITER = 'bench-writer-0000-0000-000000000000';
/** Instructions per broadcast append before issue 10 in this harness: the baseline when git history is not at hand. */
const BEFORE = 129_000;
/** Messages per script call in the group-commit rows. */
const GROUPS = [4, 16, 64];
const CPU_MESSAGES = quick ? 3_200 : 9_600;
const CPU_ROUNDS = quick ? 3 : 5;

export async function run() {
  const before = await scriptBeforeIssue10();
  const counted =
    spawnSync('valgrind', ['--version']).status === 0
      ? await instructionRows(before)
      : { rows: [{ measure: 'instructions: skipped (valgrind is not installed)' }], notes: [] };
  const cpu = await cpuRows(before);
  return {
    title: 'Redis work per append: instructions (valgrind callgrind on redis-server; a count, not a timing), and CPU µs (INFO cpu)',
    rows: [...counted.rows, ...cpu.rows],
    notes: [...counted.notes, ...cpu.notes],
  };
}

/** Instructions per message under callgrind, each script in turn on one room. */
async function instructionRows(before) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'mmb-callgrind-'));
  const binary = process.env.REDIS_SERVER ?? 'redis-server';
  const args = ['--tool=callgrind', `--callgrind-out-file=${dir}/cg.%p`, '--dump-instr=no', binary];
  args.push('--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir);
  const server = spawn('valgrind', args, { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const closers = [];
  try {
    const { client, argsOf } = await openRoom(await connectWhenUp(url), url, closers);
    // Instructions per message: `N` messages, `size` per script call, calls pipelined 50 at a time.
    const counted = async (script, kind, size = 1, old = false) => {
      const sha = String(await client.sendCommand(['SCRIPT', 'LOAD', script]));
      let next = 0;
      const call = () => client.sendCommand(['EVALSHA', sha, '1', `${PREFIX}meta`, PREFIX, ...argsOf(kind, next++, size, old)]);
      const first = await call();
      if (script !== EMPTY && script !== PUBLISH_ONLY && (!Array.isArray(first) || first[0] !== 1))
        throw new Error(`the append was refused: ${JSON.stringify(first)}`);
      for (let i = 1; i < 100; i += 50) await Promise.all(Array.from({ length: 50 }, () => call()));
      execFileSync('callgrind_control', ['--zero', String(server.pid)], { stdio: 'ignore' });
      const calls = Math.ceil(N / size);
      for (let i = 0; i < calls; i += 50) await Promise.all(Array.from({ length: Math.min(50, calls - i) }, () => call()));
      await new Promise((resolve) => setTimeout(resolve, 300)); // the publications leave for the subscribers
      execFileSync('callgrind_control', ['--dump', String(server.pid)], { stdio: 'ignore' });
      return lastDumpInstructions(dir) / (calls * size);
    };
    const beforeCount = before && (await counted(before, 'broadcast', 1, true));
    const empty = await counted(EMPTY, 'broadcast');
    const publish = await counted(PUBLISH_ONLY, 'broadcast');
    const broadcast = await counted(APPEND, 'broadcast');
    const direct = await counted(APPEND, 'direct');
    const grouped = [];
    for (const size of GROUPS) grouped.push([size, await counted(APPEND, 'broadcast', size)]);
    const baseline = beforeCount ?? BEFORE;
    const row = (measure, value) => ({
      measure,
      'instructions per message': Math.round(value),
      'ratio to the append before issue 10': +(value / baseline).toFixed(2),
      'ratio to EVALSHA of return 1': +(value / empty).toFixed(2),
      'ratio to a PUBLISH-only script': +(value / publish).toFixed(2),
    });
    return {
      rows: [
        row(
          `the append before issue 10, broadcast, one message per call${beforeCount ? '' : ' (not in this run: no git history; the figure measured earlier)'}`,
          baseline,
        ),
        row('EVALSHA `return 1`, the arguments of a lone broadcast', empty),
        row('script that only PUBLISHes the message (3 subscribers)', publish),
        row('append, broadcast to everyone but the sender, one message per call', broadcast),
        row('append, direct message to one agent, one message per call', direct),
        ...grouped.map(([size, value]) => row(`append, broadcast, ${size} messages per call (group commit), per message`, value)),
      ],
      notes: [
        `${N} messages per row, in EVALSHA calls pipelined 50 at a time, with three pub/sub subscribers on the room's channel; instructions are everything redis-server executed meanwhile (request parsing, Lua, the commands, replies and the publications), divided by the messages.`,
        `The append before issue 10 took ${BEFORE.toLocaleString('en-US')} instructions per broadcast in this harness (10 redis.call, 7 of them formatting an id with %.14g). One message per call is what a lone send costs; several per call is what a process pays when it has that many sends to the room in flight in one turn of its event loop (group commit: one call, each message still appended on its own, in order, with its own result and publication).`,
        'Goal: ≤ half the cost before issue 10. A lone send is bounded by the fixed part of a script call (EVALSHA with its arguments, the publication to three subscribers) plus its five storage commands at ~5-10k each; group commit pays the call, the head read and write once, and writes the values and index entries of the call with one command per key.',
      ],
    };
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {});
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The room as the bus leaves it: three members, one audience epoch, the member list cached (so `mver` is sent),
 * three pub/sub subscribers on its channel. `argsOf(kind, i, size, old)` builds the append's ARGV for call `i` of
 * `size` messages as the backend sends them (or, `old`, the pre-issue-10 script's ARGV for one message).
 */
async function openRoom(client, url, closers) {
  closers.push(() => client.close());
  const bus = new MessageBus(
    new RedisStorageBackend({ url, keyPrefix: 'bench:', commandTimeoutMs: 60_000 }),
    new AddressedRoutingPolicy(),
    {
      room: ROOM,
      logLevel: 'silent',
    },
  );
  closers.push(() => bus.close());
  for (const agent of ['a', 'b', 'c']) await bus.connectAgent(agent);
  await bus.sendMessage(new Message('a', 'warm-up'));
  for (let i = 0; i < 3; i++) {
    const sub = client.duplicate();
    await sub.connect();
    await sub.subscribe(`${PREFIX}live`, () => {});
    closers.push(() => sub.close());
  }
  const mver = String((await client.hGet(`${PREFIX}meta`, 'mver')) ?? '0');
  const codec = new MessageCodec();
  codec.remember(ROOM, '1', 'a,b,c');
  codec.learnEpoch(ROOM, '1', 'a,b,c');
  const draftOf = (kind, i) => {
    const content = { text: 'hello from the benchmark', i };
    return {
      timestamp: 1_700_000_000_000 + i,
      sender: 'a',
      content,
      contentJson: JSON.stringify(content),
      recipients: kind === 'direct' ? ['b'] : ['b', 'c'],
      audience: kind === 'direct' ? 'list' : 'members-except-sender',
      routing: { policy: 'addressed', requested: kind === 'direct' ? ['b'] : null },
    };
  };
  // As the backend sends them: routed on the cached member list (so its version is checked and sender and
  // recipients need no lookup), the first message where a single append has it, the others in groups of 8.
  const argsOf = (kind, i, size, old = false) => {
    if (old) return oldArgs(codec.messageArgs(ROOM, draftOf(kind, i), mver, false));
    const args = codec.appendArgs(ROOM, draftOf(kind, i * size), 0, WRITER, mver, true, size === 1);
    for (let k = 1; k < size; k++) args.push(...codec.messageArgs(ROOM, draftOf(kind, i * size + k), mver, true));
    return args;
  };
  return { client, argsOf };
}

/**
 * Redis CPU µs per message from INFO cpu in a plain redis-server (no valgrind): the pre-issue-10 script, a lone
 * send, and 4 and 16 per call, in alternating rounds so each ratio compares neighbours in time. A timing, so it
 * moves with the machine's load; the instruction rows are the firm figure.
 */
async function cpuRows(before) {
  const server = await startRedis();
  const closers = [];
  try {
    const { client, argsOf } = await openRoom(await connectWhenUp(server.url), server.url, closers);
    const cpuUs = async () => {
      const info = String(await client.sendCommand(['INFO', 'cpu']));
      return (Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1])) * 1e6;
    };
    const variants = [
      ...(before ? [['the append before issue 10, one message per call', before, 1, true]] : []),
      ['append, one message per call', APPEND, 1, false],
      ['append, 4 messages per call (group commit)', APPEND, 4, false],
      ['append, 16 messages per call (group commit)', APPEND, 16, false],
    ];
    const shas = [];
    for (const [, script] of variants) shas.push(String(await client.sendCommand(['SCRIPT', 'LOAD', script])));
    const perRound = variants.map(() => []);
    let next = 0;
    for (let round = 0; round < CPU_ROUNDS; round++) {
      for (const [v, [, , size, old]] of variants.entries()) {
        const calls = CPU_MESSAGES / size;
        const start = await cpuUs();
        for (let i = 0; i < calls; i += 50) {
          const batch = Array.from({ length: Math.min(50, calls - i) }, () => argsOf('broadcast', next++, size, old));
          await Promise.all(batch.map((args) => client.sendCommand(['EVALSHA', shas[v], '1', `${PREFIX}meta`, PREFIX, ...args])));
        }
        perRound[v].push(((await cpuUs()) - start) / CPU_MESSAGES);
      }
    }
    const rows = variants.map(([measure], v) => {
      const ratios = before ? perRound[v].map((us, round) => us / perRound[0][round]) : [];
      return {
        measure: `Redis CPU µs per message (INFO cpu): ${measure}`,
        'µs per message (median)': +median(perRound[v]).toFixed(1),
        'ratio to the append before issue 10': before ? +median(ratios).toFixed(2) : 'n/a',
        range: before ? `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}` : '',
      };
    });
    return {
      rows,
      notes: [
        `CPU rows: ${CPU_MESSAGES.toLocaleString('en-US')} broadcasts per variant and round, ${CPU_ROUNDS} rounds with the variants alternating, in a plain redis-server (appendonly off) with the same three subscribers; the ratio is the median of the per-round ratios, with their range. INFO cpu counts the kernel's work for the sockets too, which valgrind does not see.`,
      ],
    };
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {});
    await server.dispose();
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The pre-issue-10 script's ARGV after the prefix, from today's fields of one message (its body had no head). */
function oldArgs([sender, kind, recipients, idem, value, timestamp, version, inReplyTo]) {
  const body = value.slice(value.indexOf('\n') + 1);
  return [sender, kind, recipients, idem, '0', body, timestamp, '1', WRITER, version, inReplyTo];
}

/**
 * The append script as it was before issue 10 (commit 4732fc2^), read from git history so the baseline runs in the
 * same server as today's script; `undefined` outside a git checkout.
 */
function scriptBeforeIssue10() {
  const at = (file) => {
    const out = spawnSync('git', ['show', `4732fc2^:sdk/src/backends/redis/scripts/${file}.ts`], { cwd: here, encoding: 'utf8' });
    return out.status === 0 ? out.stdout.replace(/'\.\/(\w+)\.js'/g, "'./$1.mjs'") : undefined;
  };
  const files = ['append', 'conversations', 'layout'].map((file) => [file, at(file)]);
  if (files.some(([, text]) => text === undefined)) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'mmb-append-before-'));
  for (const [file, text] of files) writeFileSync(join(dir, `${file}.mjs`), text);
  return import(pathToFileURL(join(dir, 'append.mjs')).href).then(({ APPEND: script }) => {
    rmSync(dir, { recursive: true, force: true });
    return script;
  });
}

async function connectWhenUp(url) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const client = createClient({ url });
    client.on('error', () => {});
    try {
      await client.connect();
      return client;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }
}

/** Total instructions of the newest `callgrind_control --dump` (files cg.<pid>.<n>). */
function lastDumpInstructions(dir) {
  const dumps = readdirSync(dir)
    .filter((name) => /^cg\.\d+\.\d+$/.test(name))
    .sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2]));
  const text = readFileSync(join(dir, dumps.at(-1)), 'utf8');
  return Number(/^summary: (\d+)/m.exec(text)?.[1]);
}
