// Starts `wrangler dev` (workerd, local mode) on a free loopback port for a bench, and stops it by its own
// process group. The same steps as bench/worker.mjs's launcher, with the config as a parameter; fold the two
// into the shared launcher when there is one.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sign } from 'hono/jwt';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
/** The `BUS_SECRET` the edge benches start their dev server with, and sign agent tokens with. */
export const SECRET = 'bench-secret';

/** Connects `agent` to `room` over HTTP on the dev server at `base` and returns its agent token. */
export async function joinRoom(base, room, agent) {
  const token = await sign({ sub: agent, room, role: 'agent', exp: Math.floor(Date.now() / 1000) + 3600 }, SECRET, 'HS256');
  const response = await fetch(`${base}/v1/rooms/${room}/agents/${agent}/connect`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: '{}',
  });
  if (!response.ok) throw new Error(`connect ${agent} to ${room}: ${response.status} ${await response.text()}`);
  return token;
}

/**
 * The worker's limits lifted for a bench (rate, sockets and members per room), with the bench's `BUS_SECRET`: a
 * bench measures the room, not the limiter. bench/worker.mjs starts its own config with the same vars.
 */
export const UNLIMITED_VARS = Object.freeze({
  BUS_SECRET: SECRET,
  RATE_LIMIT_PER_SECOND: '1000000',
  RATE_LIMIT_BURST: '1000000',
  MAX_SOCKETS_PER_ROOM: '10000',
  MAX_MEMBERS_PER_ROOM: '10000',
});

/** `wrangler dev` of bench/edge/worker.ts (this worker's rooms beside the peers'), limits lifted. */
export function startEdgeDev() {
  return startDev({ config: join(ROOT, 'bench/edge/wrangler.toml'), vars: UNLIMITED_VARS });
}

/** `config`: a wrangler config path; `vars`: `--var NAME:VALUE` pairs. Resolves once `/metrics` answers. */
export async function startDev({ config, vars = {} }) {
  const port = await freePort();
  const inspector = await freePort();
  const persist = mkdtempSync(join(tmpdir(), 'mmb-bench-peers-'));
  const args = [
    join(ROOT, 'node_modules/wrangler/bin/wrangler.js'),
    'dev',
    '--config',
    config,
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--inspector-port',
    String(inspector),
    '--persist-to',
    persist,
    '--show-interactive-dev-session=false',
    '--log-level',
    'warn',
  ];
  for (const [name, value] of Object.entries(vars)) args.push('--var', `${name}:${value}`);
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', CI: '1' },
  });
  let log = '';
  child.stdout.on('data', (c) => (log += c));
  child.stderr.on('data', (c) => (log += c));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    const up = await fetch(`${url}/metrics`).then(
      () => true,
      () => false,
    );
    if (up) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      kill(child);
      throw new Error(`wrangler dev did not start:\n${log.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    /** The DevTools inspector port of the worker (CPU profiles). */
    inspector,
    /** The process group of wrangler and its workerd (read /proc for their CPU time). */
    pid: child.pid,
    output: () => log,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      kill(child);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      rmSync(persist, { recursive: true, force: true });
    },
  };
}

function kill(child) {
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    // Already gone.
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
