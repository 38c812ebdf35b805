// Redis's work per append, counted in instructions: redis-server runs under valgrind (callgrind), which counts
// every instruction it executes, so the figure does not move with the machine's load the way µs do. The append
// script (a broadcast and a direct message, as the bus sends them) stands beside two baselines in the same
// server: an EVALSHA of `return 1` with the same arguments (what any script call costs), and a script that only
// PUBLISHes the message (what live delivery costs). Three pub/sub subscribers listen, as in redis-peers.
// Needs valgrind (apt-get install valgrind); without it the case reports that and nothing else.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { freePort } from '../scripts/support/ports.mjs';
import { RedisStorageBackend } from '../sdk/dist/backends/index.js';
import { MessageCodec } from '../sdk/dist/backends/redis/codec.js';
import { APPEND } from '../sdk/dist/backends/redis/scripts/append.js';
import { Message, MessageBus } from '../sdk/dist/index.js';
import { AddressedRoutingPolicy } from '../sdk/dist/routing-policies/index.js';

const quick = process.env.BENCH_QUICK === '1';
const N = quick ? 500 : 2_000; // appends counted per script (valgrind runs Redis ~50x slower)
const ROOM = 'work';
const PREFIX = `bench:{${ROOM}}:`;
const EMPTY = 'return 1';
const PUBLISH_ONLY = `redis.call('PUBLISH', ARGV[1] .. 'live', ARGV[7])\nreturn 1`;

export async function run() {
  if (spawnSync('valgrind', ['--version']).status !== 0) {
    return { title: 'Redis instructions per append', rows: [{ measure: 'skipped', note: 'valgrind is not installed' }] };
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'mmb-callgrind-'));
  const binary = process.env.REDIS_SERVER ?? 'redis-server';
  const args = ['--tool=callgrind', `--callgrind-out-file=${dir}/cg.%p`, '--dump-instr=no', binary];
  args.push('--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir);
  const server = spawn('valgrind', args, { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const closers = [];
  try {
    const client = await connectWhenUp(url);
    closers.push(() => client.close());
    // The room as the bus leaves it: three members, one audience epoch, the member list cached (so `mver` is sent).
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
    const argsOf = (kind, i) => {
      const content = { text: 'hello from the benchmark', i };
      const draft = {
        timestamp: 1_700_000_000_000 + i,
        sender: 'a',
        content,
        contentJson: JSON.stringify(content),
        recipients: kind === 'direct' ? ['b'] : ['b', 'c'],
        audience: kind === 'direct' ? 'list' : 'members-except-sender',
        routing: { policy: 'addressed', requested: kind === 'direct' ? ['b'] : null },
      };
      return codec.appendArgs(ROOM, draft, 0, 'bench-writer-0000-0000-000000000000', mver);
    };
    const counted = async (script, kind) => {
      const sha = String(await client.sendCommand(['SCRIPT', 'LOAD', script]));
      const call = (i) => client.sendCommand(['EVALSHA', sha, '1', `${PREFIX}meta`, PREFIX, ...argsOf(kind, i)]);
      const first = await call(0);
      if (script === APPEND && (!Array.isArray(first) || first[0] !== 1))
        throw new Error(`the append was refused: ${JSON.stringify(first)}`);
      for (let i = 1; i < 100; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => call(i + j)));
      execFileSync('callgrind_control', ['--zero', String(server.pid)], { stdio: 'ignore' });
      for (let i = 0; i < N; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => call(1_000 + i + j)));
      await new Promise((resolve) => setTimeout(resolve, 300)); // the publications leave for the subscribers
      execFileSync('callgrind_control', ['--dump', String(server.pid)], { stdio: 'ignore' });
      return lastDumpInstructions(dir) / N;
    };
    const empty = await counted(EMPTY, 'broadcast');
    const publish = await counted(PUBLISH_ONLY, 'broadcast');
    const broadcast = await counted(APPEND, 'broadcast');
    const direct = await counted(APPEND, 'direct');
    const row = (measure, value) => ({
      measure,
      'instructions per call': Math.round(value),
      'ratio to EVALSHA of return 1': +(value / empty).toFixed(2),
      'ratio to a PUBLISH-only script': +(value / publish).toFixed(2),
    });
    return {
      title: 'Redis instructions per append (valgrind callgrind on redis-server; a count, not a timing)',
      rows: [
        row('EVALSHA `return 1`, the same 12 arguments', empty),
        row('script that only PUBLISHes the message (3 subscribers)', publish),
        row('append script, broadcast to everyone but the sender', broadcast),
        row('append script, direct message to one agent', direct),
      ],
      notes: [
        `${N} EVALSHA calls per row, pipelined 50 at a time, with three pub/sub subscribers on the room's channel; instructions are everything redis-server executed meanwhile (request parsing, Lua, the commands, replies and the publications), divided by the calls.`,
        'Before issue 10 the broadcast append took 126,000 instructions in this harness (10 redis.call, 7 of them formatting an id with %.14g); now it reads the room head with one HMGET, writes it back with one HSET (the send counters live there) and formats ids once as integers. Goal: ≤ 63,000 (2x); not met: see the README.',
      ],
    };
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {});
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
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
