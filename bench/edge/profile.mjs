// A V8 CPU profile of the edge peers' ingest, for finding where the bus's per-message time goes (not part of
// `npm run bench`: profiles are for reading, the bench's ratios and work counts are what it reports).
// Usage: node bench/edge/profile.mjs [bus|peer|both] [seconds]   (after `npm run build`)
// Starts the same `wrangler dev` as bench/edge-peers.mjs, connects to its DevTools inspector, profiles one
// side's WebSocket ingest, prints the functions with the most self time, and writes the .cpuprofile to /tmp
// (open it in Chrome DevTools' Performance panel).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { socketThroughput } from '../worker.mjs';
import { joinRoom, ROOT, SECRET, startDev } from './wrangler-dev.mjs';

const which = process.argv[2] ?? 'both';
const seconds = Number(process.argv[3] ?? 4);
const TOP = 40;

const dev = await startDev({
  config: join(ROOT, 'bench/edge/wrangler.toml'),
  vars: { BUS_SECRET: SECRET, RATE_LIMIT_PER_SECOND: '1000000', RATE_LIMIT_BURST: '1000000' },
});
try {
  const ws = dev.url.replace('http', 'ws');
  const tag = Date.now().toString(36);
  const room = `profile-${tag}`;
  const sender = await joinRoom(dev.url, room, 'sender');
  await joinRoom(dev.url, room, 'reader');
  const urls = { bus: `${ws}/v1/rooms/${room}/ws?agent=sender&token=${sender}`, peer: `${ws}/parties/peer-room/profile-${tag}` };
  const inspector = await connectInspector(dev.inspector);
  for (const side of which === 'both' ? ['bus', 'peer'] : [which]) {
    await socketThroughput(urls[side], { durationMs: 1000 }); // warm-up: compiled code, a created object
    await inspector.call('Profiler.enable');
    await inspector.call('Profiler.setSamplingInterval', { interval: 100 });
    await inspector.call('Profiler.start');
    const { rate, messages } = await socketThroughput(urls[side], { durationMs: seconds * 1000 });
    const { profile } = await inspector.call('Profiler.stop');
    const file = `/tmp/edge-${side}-${tag}.cpuprofile`;
    writeFileSync(file, JSON.stringify(profile));
    console.log(`\n== ${side}: ${Math.round(rate)} msgs/s, ${messages} messages; profile ${file}`);
    summarize(profile, messages, await sourceLines(inspector, profile));
  }
  inspector.close();
} finally {
  await dev.stop();
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
  return (key) => byKey.get(key) ?? '';
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
