// A V8 CPU profile of the edge peers' ingest or fan-out, for finding where the bus's per-message time goes (not
// part of `npm run bench`: profiles are for reading, the bench's ratios and work counts are what it reports).
// Usage: node bench/edge/profile.mjs [bus|peer|both] [seconds|messages] [ingest|fanout]   (after `npm run build`)
// Starts the same `wrangler dev` as bench/edge-peers.mjs, connects to its DevTools inspector, profiles one
// side's WebSocket ingest for `seconds` (default 4), or its fan-out of `messages` (default 300) one at a time to
// 100 sockets, prints the functions with the most self time, and writes the .cpuprofile to /tmp (open it in
// Chrome DevTools' Performance panel).
import { writeFileSync } from 'node:fs';
import WebSocket from 'ws';
import { openFanOutRooms } from '../edge-peers.mjs';
import { socketThroughput } from '../worker.mjs';
import { joinRoom, startEdgeDev } from './wrangler-dev.mjs';

const which = process.argv[2] ?? 'both';
const mode = process.argv[4] ?? 'ingest';
const amount = Number(process.argv[3] ?? (mode === 'fanout' ? 300 : 4));
const TOP = 40;

const dev = await startEdgeDev();
try {
  const ws = dev.url.replace('http', 'ws');
  const tag = Date.now().toString(36);
  const room = `profile-${tag}`;
  const sender = await joinRoom(dev.url, room, 'sender');
  await joinRoom(dev.url, room, 'reader');
  const urls = { bus: `${ws}/v1/rooms/${room}/ws?agent=sender&token=${sender}`, peer: `${ws}/parties/peer-room/profile-${tag}` };
  const fan = mode === 'fanout' ? await openFanOutRooms(dev.url, ws, `profile-fan-${tag}`) : undefined;
  const inspector = await connectInspector(dev.inspector);
  for (const side of which === 'both' ? ['bus', 'peer'] : [which]) {
    // Warm-up: compiled code, a created object.
    if (fan) await fan[side].measure(0, 50, zeroCounts);
    else await socketThroughput(urls[side], { durationMs: 1000 });
    await inspector.call('Profiler.enable');
    await inspector.call('Profiler.setSamplingInterval', { interval: 100 });
    await inspector.call('Profiler.start');
    const { label, messages } = fan
      ? await fan[side].measure(1000, amount, zeroCounts).then((r) => ({ label: `p50 ${r.p50.toFixed(2)} ms`, messages: amount }))
      : await socketThroughput(urls[side], { durationMs: amount * 1000 }).then((r) => ({
          label: `${Math.round(r.rate)} msgs/s`,
          messages: r.messages,
        }));
    const { profile } = await inspector.call('Profiler.stop');
    const file = `/tmp/edge-${mode}-${side}-${tag}.cpuprofile`;
    writeFileSync(file, JSON.stringify(profile));
    console.log(`\n== ${side} ${mode}: ${label}, ${messages} messages; profile ${file}`);
    const lines = await sourceLines(inspector, profile);
    summarize(profile, messages, lines);
    hotLines(profile, messages, lines);
  }
  if (fan) for (const f of Object.values(fan)) f.close();
  inspector.close();
} finally {
  await dev.stop();
}

async function zeroCounts() {
  return { stringify: 0, sql: 0, rows: 0, cpuMs: 0 };
}

/** Self time by function (and its source place), as µs per message, most first. */
function summarize(profile, messages, lineOf) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const deltas = profile.timeDeltas;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]);
    const dt = deltas[i + 1] ?? 0;
    total += dt;
    const f = node.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  }
  const idle = [...self].filter(([k]) => k.startsWith('(idle)') || k.startsWith('(program)')).reduce((s, [, v]) => s + v, 0);
  console.log(
    `busy ${((total - idle) / messages).toFixed(1)} µs/message of ${(total / messages).toFixed(1)} sampled (idle+program excluded)`,
  );
  for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
    const where = lineOf(key);
    console.log(`${(us / messages).toFixed(2).padStart(8)} µs  ${((100 * us) / (total - idle)).toFixed(1).padStart(5)}%  ${key}${where}`);
  }
}

/** The bundled source line of each profiled function (the bundle is wrangler's, gone once it stops). */
async function sourceLines(inspector, profile) {
  const ids = new Set(profile.nodes.filter((n) => n.callFrame.url.endsWith('worker.js')).map((n) => n.callFrame.scriptId));
  await inspector.call('Debugger.enable');
  const sources = new Map();
  for (const scriptId of ids) {
    try {
      sources.set(scriptId, (await inspector.call('Debugger.getScriptSource', { scriptId })).scriptSource.split('\n'));
    } catch {
      // Not readable without the debugger domain: names alone then.
    }
  }
  const byKey = new Map();
  for (const n of profile.nodes) {
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
    const line = sources.get(f.scriptId)?.[f.lineNumber];
    if (line) byKey.set(key, `   | ${line.trim().slice(0, 70)}`);
  }
  await inspector.call('Debugger.disable');
  const lineOf = (key) => byKey.get(key) ?? '';
  /** One line of a script, trimmed (for the hot lines). */
  lineOf.at = (scriptId, line) => sources.get(scriptId)?.[line - 1]?.trim().slice(0, 90) ?? '';
  return lineOf;
}

/** The lines of the bundle with the most samples (V8's position ticks), so a function's self time is split by statement. */
function hotLines(profile, messages, lineOf) {
  const ticks = new Map();
  let total = 0;
  for (const node of profile.nodes) {
    for (const { line, ticks: n } of node.positionTicks ?? []) {
      total += n;
      if (!node.callFrame.url.endsWith('worker.js')) continue;
      const key = `${node.callFrame.scriptId}:${line}`;
      const entry = ticks.get(key) ?? { scriptId: node.callFrame.scriptId, line, name: node.callFrame.functionName, n: 0 };
      entry.n += n;
      ticks.set(key, entry);
    }
  }
  if (total === 0) return;
  // Ticks are samples: the sampling interval (100 µs) each, about.
  console.log('hot lines (samples per message; the interval is 100 µs):');
  for (const e of [...ticks.values()].sort((a, b) => b.n - a.n).slice(0, 15)) {
    console.log(`${(e.n / messages).toFixed(2).padStart(8)}  ${`${e.name}:${e.line}`.padEnd(28)} ${lineOf.at(e.scriptId, e.line)}`);
  }
}

async function connectInspector(port) {
  const [target] = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  let next = 1;
  const pending = new Map();
  socket.on('message', (data) => {
    const reply = JSON.parse(String(data));
    const waiter = pending.get(reply.id);
    if (!waiter) return;
    pending.delete(reply.id);
    if (reply.error) waiter.reject(new Error(reply.error.message));
    else waiter.resolve(reply.result);
  });
  return {
    call(method, params = {}) {
      const id = next++;
      socket.send(JSON.stringify({ id, method, params }));
      return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
    },
    close: () => socket.close(),
  };
}
