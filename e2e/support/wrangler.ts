/**
 * Starts a real `wrangler dev` (workerd, local mode, no account, no network)
 * for tests and benchmarks, and stops it again.
 *
 * ```ts
 * import { startWrangler } from '../support/wrangler.js';
 * const dev = await startWrangler({ vars: { RATE_LIMIT_PER_SECOND: '1000' } });
 * await fetch(`${dev.url}/v1/rooms`, { headers: { authorization: `Bearer ${token}` } });
 * await dev.restart(); // same port, same persisted state
 * await dev.stop();
 * ```
 *
 * - `config`: a wrangler config path (default: the root `wrangler.toml`). When
 *   its `[assets]` directory (the devtools build) does not exist, a copy of the
 *   config without `[assets]` is used, so tests run before the devtools are
 *   built (the worker then answers `/devtools` with a JSON 404).
 * - `vars`: extra vars passed as `--var NAME:VALUE` (override wrangler.toml and `.dev.vars`).
 * - `persistTo`: the state directory (`--persist-to`); default a fresh temp dir,
 *   removed by `stop()` unless you passed your own. `restart()` keeps it, so
 *   stored messages survive a restart as they would in production.
 * - `port`: default a free loopback port. `readyTimeoutMs`: default 60 000.
 * - `secret`: the BUS_SECRET in effect (from `vars`, else `.dev.vars`), for signing test tokens.
 *
 * The process runs in its own process group and is killed by its own pid only.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { devVar } from '../../scripts/dev-vars.mjs';

/** The repository root (this file lives in e2e/support). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface StartWranglerOptions {
  config?: string;
  vars?: Record<string, string>;
  persistTo?: string;
  port?: number;
  readyTimeoutMs?: number;
  /** Print wrangler's output (default: only when it fails to start). */
  verbose?: boolean;
}

export interface WranglerServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  persistTo: string;
  /** The BUS_SECRET the server uses. */
  secret: string;
  /** Stops the server (and removes a temp persistence dir it created). */
  stop(): Promise<void>;
  /** Stops and starts again on the same port with the same persisted state. */
  restart(): Promise<void>;
  /** What wrangler printed so far. */
  output(): string;
}

export async function startWrangler(options: StartWranglerOptions = {}): Promise<WranglerServer> {
  const config = usableConfig(options.config ?? join(ROOT, 'wrangler.toml'));
  const ownPersist = options.persistTo === undefined;
  const persistTo = options.persistTo ?? mkdtempSync(join(tmpdir(), 'mmb-wrangler-'));
  const port = options.port ?? (await freePort());
  const secret = options.vars?.BUS_SECRET ?? devVar('BUS_SECRET') ?? '';
  let child: ChildProcess | undefined;
  let log = '';

  const start = async () => {
    const inspectorPort = await freePort();
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
      String(inspectorPort),
      '--persist-to',
      persistTo,
      '--show-interactive-dev-session=false',
      '--log-level',
      'warn',
    ];
    for (const [name, value] of Object.entries(options.vars ?? {})) args.push('--var', `${name}:${value}`);
    child = spawn(process.execPath, args, {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', FORCE_COLOR: '0', CI: '1' },
    });
    const capture = (chunk: Buffer) => {
      log += chunk.toString();
      if (options.verbose) process.stderr.write(chunk);
    };
    child.stdout?.on('data', capture);
    child.stderr?.on('data', capture);
    const exited = new Promise<void>((resolveExit) => child?.once('exit', () => resolveExit()));
    const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
    for (;;) {
      const up = await fetch(`http://127.0.0.1:${port}/metrics`).then(
        () => true,
        () => false,
      );
      if (up) return;
      const dead = await Promise.race([exited.then(() => true), sleep(200).then(() => false)]);
      if (dead || Date.now() > deadline) {
        await stopChild();
        throw new Error(`wrangler dev did not start on port ${port}:\n${log.slice(-4000)}`);
      }
    }
  };

  const stopChild = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.pid === undefined) return;
    const exited = new Promise<void>((resolveExit) => running.once('exit', () => resolveExit()));
    // Signal the process group wrangler leads (it spawns workerd), by its own pid only.
    const signal = (name: NodeJS.Signals) => {
      try {
        process.kill(-(running.pid as number), name);
      } catch {
        // Already gone.
      }
    };
    signal('SIGTERM');
    const done = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
    if (!done) {
      signal('SIGKILL');
      await exited;
    }
  };

  await start();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    persistTo,
    secret,
    output: () => log,
    stop: async () => {
      await stopChild();
      if (ownPersist) rmSync(persistTo, { recursive: true, force: true });
    },
    restart: async () => {
      await stopChild();
      await start();
    },
  };
}

// --- internal helpers ---

/** The config itself, or a copy without `[assets]` when its directory is missing. */
function usableConfig(path: string): string {
  const text = readFileSync(path, 'utf8');
  const assets = /\[assets\][^[]*?directory\s*=\s*"([^"]+)"/.exec(text);
  if (!assets || existsSync(resolve(dirname(path), assets[1] as string))) return path;
  const dir = mkdtempSync(join(tmpdir(), 'mmb-wrangler-config-'));
  const rebased = text.replace(/\[assets\][\s\S]*?(?=\n\[)/, '').replace(/^main\s*=\s*"([^"]+)"/m, (_, main: string) => {
    const absolute = isAbsolute(main) ? main : resolve(dirname(path), main);
    return `main = "${relative(dir, absolute)}"`;
  });
  const copy = join(dir, 'wrangler.toml');
  writeFileSync(copy, rebased);
  // wrangler reads .dev.vars next to the config.
  const devVars = join(dirname(path), '.dev.vars');
  if (existsSync(devVars)) writeFileSync(join(dir, '.dev.vars'), readFileSync(devVars));
  return copy;
}

/** A free loopback port (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}
