// Profiles the worker's per-delta path: CPU profile of workerd via wrangler dev's inspector while the bench relay runs.
import { execSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'undici';
const root = '/work/wt/stream-gaps';
const { startWrangler } = await import(join(root, 'scripts/support/wrangler.mjs'));
const { openSocket, post, token } = await import(join(root, 'bench/worker.mjs'));
const dev = await startWrangler({
  config: join(root, 'worker/test/wrangler.bench.toml'),
  vars: { BUS_SECRET: 'bench-secret', RATE_LIMIT_PER_SECOND: '1000000', RATE_LIMIT_BURST: '1000000', MAX_STREAM_DELTAS_PER_SECOND: '1000000', MAX_CONTENT_BYTES: '16777216', MAX_SOCKETS_PER_ROOM: '10000' },
});
const ps = execSync('ps -eo args').toString().split('\n').find((l) => l.includes(`--port ${dev.port}`) && l.includes('--inspector-port'));
const inspectorPort = /--inspector-port (\d+)/.exec(ps)[1];
const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
console.log(targets.map((t) => t.title + ' ' + t.webSocketDebuggerUrl));
const target = targets.find((t) => /modular-message-bus-bench/.test(t.title)) ?? targets[0];
const cdp = new WebSocket(target.webSocketDebuggerUrl, { headers: { Origin: 'http://localhost' } });
await new Promise((r, j) => { cdp.onopen = r; cdp.onerror = (e) => j(new Error('cdp ' + e.message)); cdp.onclose = (e) => console.log('cdp closed', e.code, e.reason); }); console.log('cdp open');
let id = 0; const waiting = new Map();
cdp.onmessage = (e) => { const m = JSON.parse(String(e.data)); if (process.env.DBG) console.log(String(e.data).slice(0, 200)); if (m.id && waiting.has(m.id)) { waiting.get(m.id)(m); waiting.delete(m.id); } };
const call = (method, params = {}) => new Promise((r) => { const i = ++id; waiting.set(i, r); cdp.send(JSON.stringify({ id: i, method, params })); });
const base = dev.url; const wsBase = base.replace('http', 'ws'); const room = `prof-${Date.now()}`;
const wt = await token('writer', room); await post(`${base}/v1/rooms/${room}/agents/writer/connect`, wt, {});
const listeners = [];
for (let i = 0; i < 10; i++) { const t = await token(`r${i}`, room); await post(`${base}/v1/rooms/${room}/agents/r${i}/connect`, t, {}); listeners.push(await openSocket(`${wsBase}/v1/rooms/${room}/ws?agent=r${i}&token=${t}`)); }
const writer = await openSocket(`${wsBase}/v1/rooms/${room}/ws?agent=writer&stream=1&token=${wt}`);
const streamId = await new Promise((r) => { writer.onmessage = (e) => { const f = JSON.parse(String(e.data)); if (f.ref === 'start') r(f.stream.id); }; writer.send(JSON.stringify({ type: 'stream-start', ref: 'start' })); });
console.log(await call('Profiler.enable'), await call('Profiler.setSamplingInterval', { interval: 100 }), await call('Profiler.start'));
let seq = 0, inFlight = 0; const started = performance.now(); const DURATION = Number(process.env.DUR ?? 3000);
let got = 0; listeners[0].onmessage = () => got++;
await new Promise((resolve) => { const pump = () => { while (inFlight < 64 && performance.now() - started < DURATION) { inFlight++; writer.send(JSON.stringify({ type: 'stream-write', streamId, seq: ++seq, text: 'tok ' })); } if (inFlight === 0) resolve(); }; writer.onmessage = () => { inFlight--; pump(); }; pump(); });
console.log('deltas/s', seq / ((performance.now() - started) / 1000), 'got', got);
const { result } = await call('Profiler.stop');
writeFileSync('/tmp/stream-gaps/prof.cpuprofile', JSON.stringify(result.profile));
const p = result.profile; const self = new Map(); const byId = new Map(p.nodes.map((n) => [n.id, n]));
const dt = p.timeDeltas; const counts = new Map();
p.samples.forEach((s, i) => counts.set(s, (counts.get(s) ?? 0) + (dt[i] ?? 0)));
let total = 0; for (const [nid, t] of counts) { const n = byId.get(nid); const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}`; self.set(k, (self.get(k) ?? 0) + t); total += t; }
console.log('total ms', total / 1000);
for (const [k, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log((t / total * 100).toFixed(1).padStart(5), k);
for (const ws of [...listeners, writer]) ws.close(); cdp.close(); await dev.stop();
