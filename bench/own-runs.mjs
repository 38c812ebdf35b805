// fetch(limit 1) right after an agent's own run of broadcasts (which it does not receive), in every backend:
// a run of 16,000 beside a run of 2,000 in the same run of the bench. A backend that jumps the run (O(log n)) keeps the
// ratio near 1; one that steps through it grows about 8x. Memory, file and Redis in Node.js; IndexedDB in Chromium (as
// bench/indexeddb.mjs runs it); the Durable Object in workerd under `wrangler dev` (as bench/worker.mjs runs it).
// Set OWN_RUNS_SDK=<dist dir> to measure another build of the SDK (e.g. the one before the storage kit).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startRedis } from '../scripts/support/redis-server.mjs';
import { withBenchPage } from './browser-page.mjs';
import { openSocket, post, startDev, token } from './worker.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = resolve(process.env.OWN_RUNS_SDK ?? join(repo, 'sdk/dist'));
const SHORT = 2_000;
const LONG = 16_000;
const SAMPLES = 25;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const round = (x, digits = 3) => Number(x.toFixed(digits));

/** The scenario in one room: b sends, a sends `run` broadcasts, b sends; then a fetches one message after b's first. */
async function scenario(sdk, storage, room, run) {
  const { Message, MessageBus, BroadcastRoutingPolicy } = sdk;
  const bus = new MessageBus(storage, new BroadcastRoutingPolicy(), { room, logLevel: 'silent', closeStorage: false });
  await bus.connectAgent('a');
  await bus.connectAgent('b');
  await bus.sendMessage(new Message('b', 'before'));
  for (let i = 0; i < run; i += 250) {
    await Promise.all(Array.from({ length: Math.min(250, run - i) }, (_, j) => bus.sendMessage(new Message('a', { i: i + j }))));
  }
  const after = await bus.sendMessage(new Message('b', 'after'));
  const samples = [];
  for (let s = 0; s < SAMPLES; s++) {
    const started = performance.now();
    const [first] = await storage.fetch(room, 'a', 1, 1);
    samples.push(performance.now() - started);
    if (first?.id !== after.id) throw new Error(`${storage.name}: fetch after the run gave ${first?.id}, expected ${after.id}`);
  }
  await bus.close();
  return median(samples);
}

async function nodeRow(sdk, name, open) {
  const ms = {};
  for (const run of [SHORT, LONG]) {
    const { storage, dispose } = await open(run);
    try {
      ms[run] = await scenario(sdk, storage, `own-${run}`, run);
    } finally {
      await storage.close();
      await dispose?.();
    }
  }
  return row(name, ms[SHORT], ms[LONG]);
}

function row(backend, short, long, detail = 'median of 25 fetches') {
  return {
    backend,
    'after 2,000 own (ms)': round(short),
    'after 16,000 own (ms)': round(long),
    '16k / 2k': round(long / short, 2),
    target: '≤ 2',
    detail,
  };
}

async function indexedDbRow() {
  const page = `
    import { Message, MessageBus } from '${join(dist, 'index.js')}';
    import { IndexedDBStorageBackend } from '${join(dist, 'backends/index.browser.js')}';
    import { BroadcastRoutingPolicy } from '${join(dist, 'routing-policies/index.js')}';
    window.measure = async (run) => {
      const storage = new IndexedDBStorageBackend({ dbName: 'own-' + run + '-' + Date.now() });
      const bus = new MessageBus(storage, new BroadcastRoutingPolicy(), { room: 'own', logLevel: 'silent', closeStorage: false });
      await bus.connectAgent('a');
      await bus.connectAgent('b');
      await bus.sendMessage(new Message('b', 'before'));
      for (let i = 0; i < run; i += 1000) {
        await Promise.all(Array.from({ length: Math.min(1000, run - i) }, (_, j) => bus.sendMessage(new Message('a', { i: i + j }))));
      }
      const after = await bus.sendMessage(new Message('b', 'after'));
      const samples = [];
      for (let s = 0; s < ${SAMPLES}; s++) {
        const started = performance.now();
        const [first] = await storage.fetch('own', 'a', 1, 1);
        samples.push(performance.now() - started);
        if (first?.id !== after.id) throw new Error('fetch after the run gave ' + first?.id);
      }
      await storage.close();
      return samples.sort((x, y) => x - y)[Math.floor(samples.length / 2)];
    };
    window.ready = true;`;
  return withBenchPage(page, repo, async ({ open, browser }) => {
    const tab = await open();
    const short = await tab.evaluate((n) => window.measure(n), SHORT);
    const long = await tab.evaluate((n) => window.measure(n), LONG);
    return row('IndexedDB (Chromium)', short, long, `Chromium ${browser.version()}, median of ${SAMPLES} fetches`);
  });
}

async function durableObjectRow() {
  const dev = await startDev();
  try {
    const ms = {};
    for (const run of [SHORT, LONG]) {
      const room = `own-${run}-${Date.now().toString(36)}`;
      const [a, b] = [await token('a', room), await token('b', room)];
      await post(`${dev.url}/v1/rooms/${room}/agents/a/connect`, a, {});
      await post(`${dev.url}/v1/rooms/${room}/agents/b/connect`, b, {});
      await post(`${dev.url}/v1/rooms/${room}/messages`, b, { content: 'before' });
      await sendOverSocket(`${dev.url.replace('http', 'ws')}/v1/rooms/${room}/ws?agent=a&token=${a}`, run);
      const after = await post(`${dev.url}/v1/rooms/${room}/messages`, b, { content: 'after' });
      const samples = [];
      for (let s = 0; s < SAMPLES; s++) {
        const started = performance.now();
        const response = await fetch(`${dev.url}/v1/rooms/${room}/messages?agent=a&after=1&limit=1`, {
          headers: { authorization: `Bearer ${a}` },
        });
        const { messages } = await response.json();
        samples.push(performance.now() - started);
        if (messages?.[0]?.id !== (after.message?.id ?? after.id))
          throw new Error(`durable object: fetch after the run gave ${JSON.stringify(messages)}`);
      }
      ms[run] = median(samples);
    }
    return row(
      'Durable Object (workerd)',
      ms[SHORT],
      ms[LONG],
      `median of ${SAMPLES} HTTP fetches through the worker (includes the HTTP round trip)`,
    );
  } finally {
    await dev.stop();
  }
}

/** Sends `count` messages on one socket, 64 in flight. */
async function sendOverSocket(url, count) {
  const ws = await openSocket(url);
  let sent = 0;
  let done = 0;
  await new Promise((resolve, reject) => {
    const pump = () => {
      while (sent - done < 64 && sent < count) ws.send(JSON.stringify({ type: 'send', ref: sent, content: { i: sent++ } }));
      if (done === count) resolve();
    };
    ws.onmessage = (event) => {
      const frame = JSON.parse(String(event.data));
      if (frame.type === 'error') reject(new Error(`send failed: ${JSON.stringify(frame)}`));
      if (frame.type !== 'ok') return;
      done++;
      pump();
    };
    pump();
  });
  ws.close();
}

export async function run() {
  const core = await import(pathToFileURL(join(dist, 'index.js')).href);
  const backends = await import(pathToFileURL(join(dist, 'backends/index.js')).href);
  const policies = await import(pathToFileURL(join(dist, 'routing-policies/index.js')).href);
  const sdk = { ...core, ...policies };
  const rows = [];
  rows.push(await nodeRow(sdk, 'memory', () => ({ storage: new backends.InMemoryStorageBackend() })));
  rows.push(
    await nodeRow(sdk, 'file', () => {
      const directory = mkdtempSync(join(tmpdir(), 'mmb-own-runs-'));
      return {
        storage: new backends.FileStorageBackend({ directory, fsync: 'never' }),
        dispose: () => rmSync(directory, { recursive: true, force: true }),
      };
    }),
  );
  const redis = await startRedis();
  try {
    rows.push(
      await nodeRow(sdk, 'Redis', (n) => ({ storage: new backends.RedisStorageBackend({ url: redis.url, keyPrefix: `own${n}:` }) })),
    );
  } finally {
    await redis.dispose();
  }
  rows.push(await indexedDbRow());
  if (process.env.OWN_RUNS_SDK === undefined) rows.push(await durableObjectRow());
  const notes = [
    `SDK: ${dist}. Each backend: b sends one broadcast, a sends a run of ${SHORT.toLocaleString('en')} (or ${LONG.toLocaleString('en')}) broadcasts that exclude it, b sends one; then storage.fetch(room, 'a', 1, 1) must return b's second message.`,
    `Target ≤ 2 in every backend (8x more own broadcasts, same answer): ${rows.filter((r) => r['16k / 2k'] <= 2).length} of ${rows.length} met.`,
  ];
  return { title: 'fetch(limit 1) after an own run of broadcasts: 16,000 vs 2,000', rows, notes };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await run();
  console.table(result.rows);
  for (const note of result.notes) console.log(`- ${note}`);
}
