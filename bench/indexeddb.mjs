// IndexedDBStorageBackend in real Chromium (Debian's /usr/bin/chromium through playwright-core), beside raw
// `idb` puts of the same rows in the same run: sequential sendMessage, a 1,000-message batch, fetch, and the
// latency of a message from one tab to a subscriber in another. Needs `npm run build` (the bench runner does it).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withBenchPage } from './browser-page.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const SEQUENTIAL = 400;
const BATCH = 1000;
const ROUNDS = 3;

// The page: the SDK and idb bundled for the browser, with the measurements as window.bench.
const PAGE = `
import { openDB, unwrap } from 'idb';
import { Message, MessageBus } from 'modular-message-bus-library';
import { IndexedDBStorageBackend } from 'modular-message-bus-library/backends';
import { BroadcastRoutingPolicy } from 'modular-message-bus-library/routing-policies';

const STORES = ['rooms', 'members', 'messages', 'deliveries', 'broadcasts', 'audiences', 'idempotency'];
let readwrite = 0;
const transaction = IDBDatabase.prototype.transaction;
IDBDatabase.prototype.transaction = function (stores, mode, options) {
  if (mode === 'readwrite') readwrite++;
  return transaction.call(this, stores, mode, options);
};
let n = 0;
const fresh = (p) => p + '-' + Date.now().toString(36) + '-' + ++n;
const content = (i) => ({ text: 'benchmark message number ' + i, i });

async function busOn(dbName) {
  const bus = new MessageBus(new IndexedDBStorageBackend({ dbName }), new BroadcastRoutingPolicy(), { room: 'bench', logLevel: 'silent' });
  await bus.connectAgent('a');
  await bus.connectAgent('b');
  for (let i = 0; i < 20; i++) await bus.sendMessage(new Message('a', content(-i)));
  return bus;
}

// The rows one broadcast append writes (message, broadcast index, room counters, sender counters), as plain puts.
function rows(id) {
  const contentJson = JSON.stringify(content(id));
  return {
    message: { id, timestamp: Date.now(), sender: 'a', contentJson, routing: { policy: 'broadcast', requested: null }, audience: 'members-except-sender', epoch: 2 },
    broadcast: { id, epoch: 2, except: 'a' },
    room: { lastId: id, oldestId: 1, epoch: 2, audienceEpoch: 2, memberVersion: 2 },
    member: { id: 'a', online: true, groups: [], joinedAfter: 0, cursor: 0, sentCount: id, lastSentAt: Date.now() },
  };
}
async function rawDb() {
  return openDB(fresh('raw'), 1, { upgrade: (db) => STORES.forEach((s) => db.createObjectStore(s)) });
}
// Per transaction, as the backend writes them: each message's row and broadcast row, the room and sender rows once.
async function rawTransactions(db, first, count, transactions) {
  const per = Math.ceil(count / transactions);
  for (let start = 0; start < count; start += per) {
    const tx = db.transaction(['messages', 'broadcasts', 'rooms', 'members'], 'readwrite');
    const end = Math.min(count, start + per);
    for (let i = start; i < end; i++) {
      const r = rows(first + i);
      unwrap(tx.objectStore('messages')).put(r.message, ['bench', first + i]);
      unwrap(tx.objectStore('broadcasts')).put(r.broadcast, ['bench', first + i]);
    }
    const r = rows(first + end - 1);
    unwrap(tx.objectStore('rooms')).put(r.room, 'bench');
    unwrap(tx.objectStore('members')).put(r.member, ['bench', 'a']);
    await tx.done;
  }
}

window.bench = {
  async sequential(count) {
    const bus = await busOn(fresh('seq'));
    let t = performance.now();
    for (let i = 0; i < count; i++) await bus.sendMessage(new Message('a', content(i)));
    const bus_ms = performance.now() - t;
    await bus.close();
    const db = await rawDb();
    t = performance.now();
    for (let i = 0; i < count; i++) await rawTransactions(db, 100 + i, 1, 1);
    const raw_ms = performance.now() - t;
    db.close();
    return { bus_ms, raw_ms };
  },
  async batch(count) {
    const bus = await busOn(fresh('batch'));
    const before = readwrite;
    let t = performance.now();
    const sent = await Promise.all(Array.from({ length: count }, (_, i) => bus.sendMessage(new Message('a', content(i)))));
    const bus_ms = performance.now() - t;
    const transactions = readwrite - before;
    const ids = sent.map((m) => m.id);
    const gapFree = ids.every((id, i) => i === 0 || id === ids[i - 1] + 1);
    // Fetch: one page of 100 for b from the middle of the room, beside a raw getAll of 100 message rows.
    const fetches = [];
    let page;
    for (let i = 0; i < 5; i++) {
      t = performance.now();
      page = await bus.fetchMessages('b', 400, { limit: 100 });
      fetches.push(performance.now() - t);
    }
    const fetch_ms = fetches.sort((x, y) => x - y)[2];
    await bus.close();
    const db = await rawDb();
    t = performance.now();
    await rawTransactions(db, 100, count, transactions);
    const raw_ms = performance.now() - t;
    t = performance.now();
    await rawTransactions(db, 100 + count, count, 1);
    const raw_one_tx_ms = performance.now() - t;
    const rawFetches = [];
    let rawPage;
    for (let i = 0; i < 5; i++) {
      t = performance.now();
      rawPage = await db.getAll('messages', IDBKeyRange.bound(['bench', 400], ['bench', []], true, true), 100);
      rawFetches.push(performance.now() - t);
    }
    const raw_fetch_ms = rawFetches.sort((x, y) => x - y)[2];
    db.close();
    return { bus_ms, raw_ms, raw_one_tx_ms, transactions, gapFree, fetch_ms, raw_fetch_ms, fetched: page.length + '/' + rawPage.length };
  },
  // Cross-tab: open a bus on dbName; as receiver, subscribe and record arrival times.
  received: [],
  async openTab(dbName, agent) {
    this.bus = new MessageBus(new IndexedDBStorageBackend({ dbName }), new BroadcastRoutingPolicy(), { room: 'tabs', logLevel: 'silent' });
    await this.bus.connectAgent(agent);
  },
  subscribe(agent) {
    this.bus.subscribe(agent, (m) => void this.received.push({ id: m.id, at: Date.now(), sentAt: m.content.sentAt }), { after: 0 });
    this.channel = new BroadcastChannel('raw-bench');
    this.rawReceived = [];
    this.channel.onmessage = (e) => this.rawReceived.push(Date.now() - e.data.sentAt);
  },
  async sendTimed(agent, count, gapMs) {
    const channel = new BroadcastChannel('raw-bench');
    for (let i = 0; i < count; i++) {
      await this.bus.sendMessage(new Message(agent, { sentAt: Date.now(), i }));
      channel.postMessage({ sentAt: Date.now() });
      await new Promise((r) => setTimeout(r, gapMs));
    }
    channel.close();
  },
};
window.ready = true;
`;

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const percentile = (values, p) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))];
const round = (x, digits = 2) => Number(x.toFixed(digits));

export async function run() {
  return withBenchPage(PAGE, repo, async ({ open, browser }) => {
    const page = await open();

    const sequential = [];
    const batches = [];
    for (let round = 0; round < ROUNDS; round++) {
      sequential.push(await page.evaluate((n) => window.bench.sequential(n), SEQUENTIAL));
      batches.push(await page.evaluate((n) => window.bench.batch(n), BATCH));
    }
    const seqBus = median(sequential.map((r) => r.bus_ms));
    const seqRaw = median(sequential.map((r) => r.raw_ms));
    const batchBus = median(batches.map((r) => r.bus_ms));
    const batchRaw = median(batches.map((r) => r.raw_ms));
    const batchRawOne = median(batches.map((r) => r.raw_one_tx_ms));
    const fetchBus = median(batches.map((r) => r.fetch_ms));
    const fetchRaw = median(batches.map((r) => r.raw_fetch_ms));
    const transactions = batches.map((r) => r.transactions).join('/');

    // Two tabs: A sends 60 messages 15 ms apart; B's subscriber records when each arrives.
    const dbName = `tabs-${Date.now().toString(36)}`;
    const [tabA, tabB] = [page, await open()];
    await tabA.evaluate((db) => window.bench.openTab(db, 'alice'), dbName);
    await tabB.evaluate((db) => window.bench.openTab(db, 'bob'), dbName);
    await tabB.evaluate(() => window.bench.subscribe('bob'));
    await tabA.evaluate(() => window.bench.sendTimed('alice', 60, 15));
    await tabB.waitForFunction(() => window.bench.received.length >= 60, undefined, { timeout: 10_000 });
    const received = await tabB.evaluate(() => window.bench.received);
    const rawLatencies = await tabB.evaluate(() => window.bench.rawReceived);
    const latencies = received.map((r) => r.at - r.sentAt);
    const ordered = received.every((r, i) => i === 0 || r.id === received[i - 1].id + 1);
    if (process.env.BENCH_DEBUG) console.log('latencies', latencies.join(' '));

    const rows = [
      {
        case: `sequential sendMessage x${SEQUENTIAL}`,
        bus: `${round((SEQUENTIAL / seqBus) * 1000, 0)} msg/s`,
        raw: `${round((SEQUENTIAL / seqRaw) * 1000, 0)} msg/s`,
        'bus/raw': round(seqRaw / seqBus),
        detail: 'raw: one readwrite transaction per message putting the same 4 rows (message, broadcast index, room, sender)',
      },
      {
        case: `batch of ${BATCH} (Promise.all of sendMessage)`,
        bus: `${round(batchBus, 1)} ms (${round((BATCH / batchBus) * 1000, 0)} msg/s)`,
        raw: `${round(batchRaw, 1)} ms`,
        'bus/raw': round(batchRaw / batchBus),
        detail: `same transaction count as the bus used (${transactions} per round); all ids gap-free: ${batches.every((b) => b.gapFree)}`,
      },
      {
        case: `batch of ${BATCH} vs raw in ONE transaction`,
        bus: `${round(batchBus, 1)} ms`,
        raw: `${round(batchRawOne, 1)} ms`,
        'bus/raw': round(batchRawOne / batchBus),
        detail: 'the bus is not a single-transaction bulk insert: this is the stricter baseline',
      },
      {
        case: 'fetch 100 of 1,020 (broadcast index + rows)',
        bus: `${round(fetchBus, 2)} ms`,
        raw: `${round(fetchRaw, 2)} ms`,
        'bus/raw': round(fetchRaw / fetchBus),
        detail: `raw: one getAll of 100 message rows (${batches[0].fetched})`,
      },
      {
        case: 'tab A send -> tab B subscribe (60 msgs)',
        bus: `p50 ${median(latencies)} ms, p95 ${percentile(latencies, 0.95)} ms, max ${Math.max(...latencies)} ms`,
        raw: `p50 ${median(rawLatencies)} ms, max ${Math.max(...rawLatencies)} ms`,
        'bus/raw': '-',
        detail: `raw: a bare BroadcastChannel post; target < 100 ms; in order, gap-free: ${ordered}`,
      },
    ];
    const notes = [
      `Chromium ${browser.version()} headless, ${ROUNDS} rounds, medians. Records: ${SEQUENTIAL} sequential and ${BATCH} concurrent broadcast sends (small JSON content) in a 2-member room.`,
      'The bus has no batch API: the batch is 1,000 concurrent sendMessage calls. The backend groups appends that arrive while a transaction is in flight into the next transaction, so the batch costs a few readwrite transactions (counted by wrapping IDBDatabase.prototype.transaction), and the raw baseline writes the same rows in that many transactions. The one-transaction row shows the distance to a bulk insert.',
      `Target: batch >= 50% of raw -> ${round(batchRaw / batchBus) >= 0.5 ? 'met' : 'NOT met'} (${round((batchRaw / batchBus) * 100, 0)}%).`,
      'Each bus send also runs a readonly getMembers transaction and the append reads the room, the sender and (once per membership epoch) the audience before writing; the raw rows are blind puts.',
    ];
    return { title: 'IndexedDBStorageBackend in Chromium vs raw idb', rows, notes };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await run();
  console.table(result.rows);
  for (const note of result.notes) console.log(`- ${note}`);
}
