// File backend benchmark: send throughput per fsync mode beside raw fs appends of the same bytes with the same
// fsync policy; fetch latency at 10k and 1M messages (1% routed to the fetching agent) beside raw reads of the
// same number of records; open time at 1M beside reading the index file alone. Ratios, not absolute figures,
// are what carry over between machines.
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  encodeIndex,
  encodePayload,
  FORMAT_VERSION,
  fileHeader,
  HEADER_BYTES,
  INDEX_MAGIC,
  KIND_LIST,
  LOG_MAGIC,
} from '../sdk/dist/backends/file/format.js';
import { FileStorageBackend } from '../sdk/dist/backends/index.js';
import { Message, MessageBus } from '../sdk/dist/index.js';
import { BroadcastRoutingPolicy } from '../sdk/dist/routing-policies/index.js';

const quick = process.env.BENCH_QUICK === '1';
const fsyncAsync = promisify(fs.fsync);

export async function run() {
  const base = fs.mkdtempSync(join(tmpdir(), 'mmb-bench-file-'));
  const rows = [];
  const notes = [];
  try {
    for (const mode of ['always', 'batch', 'never']) rows.push(await sendRow(base, mode, 1));
    rows.push(await sendRow(base, 'always', 16));
    rows.push(await appendRow(base));
    const big = quick ? 200_000 : 1_000_000;
    const small = await fetchRow(base, 10_000);
    const large = await fetchRow(base, big);
    rows.push(small.row, large.row);
    rows.push({
      measure: `fetch latency ${big.toLocaleString('en')} vs 10,000 messages`,
      value: +(large.fetchUs / small.fetchUs).toFixed(2),
      unit: 'x (target ≤ 2)',
      baseline: +(large.rawUs / small.rawUs).toFixed(2),
      'ratio to baseline': +(large.fetchUs / small.fetchUs / (large.rawUs / small.rawUs)).toFixed(2),
    });
    rows.push(large.openRow);
    notes.push(
      "send: sequential bus.sendMessage (broadcast, 10 agents, ~60-byte content); raw = fs.writeSync of the backend's own log and index bytes for each message, with the same fsync policy ('always': one awaited fsync per message; 'batch': every 100 ms; 'never': none).",
      "'always' with 16 concurrent sends shares fsyncs (group commit); its baseline is the same sequential raw loop, so the ratio shows what grouping buys.",
      "'batch' and 'never' through the bus are bound by the bus (routing, validation, metrics); the storage.append row shows the file layer alone against the same raw appends.",
      `fetch: fetchMessages(agent, after, limit 100) at random cursors in a room where 1% of messages go to the agent; raw = 100 positional reads of log records of the same size. Rooms are written straight in the on-disk format (same encoders) to build ${big.toLocaleString('en')} messages quickly.`,
      'open: first getRoom on a closed room (lock, journal replay, index load and check) beside fs.readFileSync of its index file alone.',
    );
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
  return { title: 'FileStorageBackend (Node, local disk)', rows, notes };
}

async function sendRow(base, fsync, concurrency) {
  const n = fsync === 'always' && concurrency === 1 ? (quick ? 300 : 1500) : quick ? 3000 : 20_000;
  const directory = join(base, `send-${fsync}-${concurrency}`);
  const storage = new FileStorageBackend({ directory, fsync });
  const bus = new MessageBus(storage, new BroadcastRoutingPolicy(), { room: 'bench', logLevel: 'silent' });
  for (let i = 0; i < 10; i++) await bus.connectAgent(`agent-${i}`);
  const start = performance.now();
  if (concurrency === 1) {
    for (let i = 0; i < n; i++) await bus.sendMessage(new Message('agent-0', { text: 'hello from the benchmark', i }));
  } else {
    for (let i = 0; i < n; i += concurrency) {
      await Promise.all(
        Array.from({ length: concurrency }, (_, j) =>
          bus.sendMessage(new Message('agent-0', { text: 'hello from the benchmark', i: i + j })),
        ),
      );
    }
  }
  const rate = n / ((performance.now() - start) / 1000);
  await bus.close();
  const raw = await rawAppend(join(directory, 'r-bench'), fsync, n);
  return {
    measure: `send, fsync '${fsync}'${concurrency > 1 ? `, ${concurrency} concurrent` : ''}`,
    value: Math.round(rate),
    unit: 'msgs/s',
    baseline: Math.round(raw),
    'ratio to baseline': +(rate / raw).toFixed(3),
  };
}

/** The backend alone (storage.append, no bus): what the file layer costs beside the same raw appends. */
async function appendRow(base) {
  const n = quick ? 5000 : 50_000;
  const directory = join(base, 'append-never');
  const storage = new FileStorageBackend({ directory, fsync: 'never' });
  for (let i = 0; i < 10; i++) await storage.putMember('bench', { id: `agent-${i}`, online: true });
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const content = { text: 'hello from the benchmark', i };
    await storage.append('bench', {
      timestamp: Date.now(),
      sender: 'agent-0',
      content,
      contentJson: JSON.stringify(content),
      recipients: [],
      audience: 'members-except-sender',
      routing: { policy: 'broadcast', requested: null },
    });
  }
  const rate = n / ((performance.now() - start) / 1000);
  await storage.close();
  const raw = await rawAppend(join(directory, 'r-bench'), 'never', n);
  return {
    measure: "storage.append alone (no bus), fsync 'never'",
    value: Math.round(rate),
    unit: 'msgs/s',
    baseline: Math.round(raw),
    'ratio to baseline': +(rate / raw).toFixed(3),
  };
}

/** Appends the backend's own records (log + index bytes per message) to fresh files with the same fsync policy. */
async function rawAppend(roomDir, fsync, n) {
  const log = fs.readFileSync(join(roomDir, 'log.0.bin'));
  const index = fs.readFileSync(join(roomDir, 'index.0.bin'));
  const records = [];
  for (let at = HEADER_BYTES; at < log.length; ) {
    const length = 8 + log.readUInt32LE(at);
    records.push(log.subarray(at, at + length));
    at += length;
  }
  const indexChunk = index.subarray(HEADER_BYTES, HEADER_BYTES + Math.round((index.length - HEADER_BYTES) / records.length));
  const logFd = fs.openSync(join(roomDir, 'raw-log'), 'w');
  const indexFd = fs.openSync(join(roomDir, 'raw-index'), 'w');
  let dirty = false;
  let pending = Promise.resolve();
  const timer =
    fsync === 'batch'
      ? setInterval(() => {
          if (!dirty) return;
          dirty = false;
          pending = Promise.all([fsyncAsync(logFd), fsyncAsync(indexFd)]);
        }, 100)
      : undefined;
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    fs.writeSync(logFd, records[i % records.length]);
    fs.writeSync(indexFd, indexChunk);
    dirty = true;
    if (fsync === 'always') await fsyncAsync(logFd);
    else if (fsync === 'batch' && i % 256 === 0) await new Promise(setImmediate); // let the timer run, as the backend's does
  }
  const rate = n / ((performance.now() - start) / 1000);
  clearInterval(timer);
  await pending;
  fs.closeSync(logFd);
  fs.closeSync(indexFd);
  return rate;
}

/** Writes a room of `count` direct messages (1% to 'target', the rest to 'other') in the on-disk format. */
function buildRoom(directory, count) {
  const dir = join(directory, 'r-big');
  fs.mkdirSync(dir, { recursive: true });
  const agents = ['sender', 'target', 'other'];
  const meta = [{ t: 'format', format: 'modular-message-bus/file', version: FORMAT_VERSION }].concat(
    agents.map((id, n) => ({ t: 'put', id, on: true, g: [], j: 0, fresh: 1, n })),
  );
  fs.writeFileSync(join(dir, 'meta.jsonl'), `${meta.map((r) => JSON.stringify(r)).join('\n')}\n`);
  const logFd = fs.openSync(join(dir, 'log.0.bin'), 'w');
  const indexFd = fs.openSync(join(dir, 'index.0.bin'), 'w');
  fs.writeSync(logFd, fileHeader(LOG_MAGIC, 1));
  fs.writeSync(indexFd, fileHeader(INDEX_MAGIC, 1));
  let offset = HEADER_BYTES;
  const chunk = 20_000;
  for (let from = 1; from <= count; from += chunk) {
    const logParts = [];
    const indexParts = [];
    for (let id = from; id < Math.min(from + chunk, count + 1); id++) {
      const to = id % 100 === 0 ? 'target' : 'other';
      const contentJson = JSON.stringify({ text: 'hello from the benchmark', id });
      const record = encodePayload(
        { id, t: 1_700_000_000_000 + id, s: 'sender', a: KIND_LIST, e: 0, r: [to], p: 'individual', q: [to] },
        contentJson,
      );
      logParts.push(record);
      indexParts.push(
        encodeIndex({
          id,
          offset,
          length: record.length,
          timestamp: 1_700_000_000_000 + id,
          kind: KIND_LIST,
          senderNo: 0,
          epoch: 0,
          recipients: [to === 'target' ? 1 : 2],
          key: undefined,
        }),
      );
      offset += record.length;
    }
    fs.writeSync(logFd, Buffer.concat(logParts));
    fs.writeSync(indexFd, Buffer.concat(indexParts));
  }
  fs.closeSync(logFd);
  fs.closeSync(indexFd);
  return { dir, logSize: offset };
}

async function fetchRow(base, count) {
  const directory = join(base, `fetch-${count}`);
  const { dir, logSize } = buildRoom(directory, count);
  // Open time: the first operation on the closed room.
  const openStart = performance.now();
  const storage = new FileStorageBackend({ directory });
  const room = await storage.getRoom('big');
  const openMs = performance.now() - openStart;
  if (room.lastId !== count) throw new Error(`built ${count} messages but the backend sees ${room.lastId}`);
  const readStart = performance.now();
  fs.readFileSync(join(dir, 'index.0.bin'));
  const rawOpenMs = performance.now() - readStart;

  const rounds = quick ? 200 : 1000;
  const cursors = Array.from({ length: rounds }, (_, i) => Math.floor((((i * 7919) % rounds) / rounds) * (count - 20_000)));
  for (let i = 0; i < 50; i++) await storage.fetch('big', 'target', cursors[i], 100); // warm up
  let start = performance.now();
  let got = 0;
  for (const after of cursors) got += (await storage.fetch('big', 'target', after, 100)).length;
  const fetchUs = ((performance.now() - start) * 1000) / rounds;
  if (got !== rounds * 100) throw new Error(`expected full pages of 100, got ${got / rounds} on average`);

  const fd = fs.openSync(join(dir, 'log.0.bin'), 'r');
  const buf = Buffer.alloc(256);
  const recordSize = Math.round((logSize - HEADER_BYTES) / count);
  start = performance.now();
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < 100; k++)
      fs.readSync(fd, buf, 0, recordSize, HEADER_BYTES + (((r * 100 + k) * 104_729) % (count - 1)) * recordSize);
  }
  const rawUs = ((performance.now() - start) * 1000) / rounds;
  fs.closeSync(fd);
  await storage.close();
  return {
    fetchUs,
    rawUs,
    row: {
      measure: `fetch 100 of ${count.toLocaleString('en')} (1% to the agent)`,
      value: +fetchUs.toFixed(1),
      unit: 'µs/fetch',
      baseline: +rawUs.toFixed(1),
      'ratio to baseline': +(fetchUs / rawUs).toFixed(2),
    },
    openRow: {
      measure: `open a room of ${count.toLocaleString('en')} messages`,
      value: +openMs.toFixed(1),
      unit: 'ms',
      baseline: +rawOpenMs.toFixed(1),
      'ratio to baseline': +(openMs / rawOpenMs).toFixed(2),
    },
  };
}
