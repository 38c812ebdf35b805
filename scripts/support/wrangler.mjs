// Starts a real `wrangler dev` (workerd, local mode, no account, no network) and stops it again. The one
// launcher of wrangler dev: the e2e specs, the worker's Node e2e tests, bench/worker.mjs and `npm start` import
// it. Options and the returned server are described in wrangler.d.mts.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { devVar } from '../dev-vars.mjs';
import { freePort } from './ports.mjs';

/** The repository root (this file lives in scripts/support). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * ```js
 * const dev = await startWrangler({ vars: { RATE_LIMIT_PER_SECOND: '1000' } });
 * await fetch(`${dev.url}/v1/rooms`, { headers: { authorization: `Bearer ${token}` } });
 * await dev.restart(); // same port, same persisted state
 * await dev.stop();
 * ```
 */
export async function startWrangler(options = {}) {
  const { path: config, dispose: disposeConfig } = usableConfig(options.config ?? join(ROOT, 'wrangler.toml'));
  const ownPersist = options.persistTo === undefined;
  const persistTo = options.persistTo ?? mkdtempSync(join(tmpdir(), 'mmb-wrangler-'));
  const port = options.port ?? (await freePort());
  const secret = options.vars?.BUS_SECRET ?? devVar('BUS_SECRET') ?? '';
  let child;
  let log = '';
  // Should this process end without stop() (a test runner's teardown, Ctrl-C in the demo), take wrangler along.
  const onParentExit = () => {
    signalGroup(child, 'SIGKILL');
    if (ownPersist) rmSync(persistTo, { recursive: true, force: true });
    disposeConfig();
  };
  process.once('exit', onParentExit);

  const start = async () => {
    const inspectorPort = await freePort();
    const args = [join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'dev', '--config', config, '--ip', '127.0.0.1'];
    args.push('--port', String(port), '--inspector-port', String(inspectorPort), '--persist-to', persistTo);
    args.push('--show-interactive-dev-session=false', '--log-level', 'warn');
    for (const [name, value] of Object.entries(options.vars ?? {})) args.push('--var', `${name}:${value}`);
    const started = spawn(process.execPath, args, {
      cwd: ROOT,
      // Its own process group: wrangler starts workerd, and stop() signals both through the group.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', FORCE_COLOR: '0', CI: '1' },
    });
    child = started;
    const capture = (chunk) => {
      log += chunk.toString();
      if (options.verbose) process.stderr.write(chunk);
    };
    started.stdout?.on('data', capture);
    started.stderr?.on('data', capture);
    let answered = false;
    const exited = new Promise((resolveExit) =>
      started.once('exit', (code) => {
        // It was up and nobody stopped it: tell the caller (the demo stops itself then). A failed start throws instead.
        if (answered && child === started) options.onExit?.(code, log);
        resolveExit();
      }),
    );
    const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
    for (;;) {
      const up = await fetch(`http://127.0.0.1:${port}/metrics`).then(
        () => true,
        () => false,
      );
      if (up) {
        answered = true;
        return;
      }
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
    const exited = new Promise((resolveExit) => running.once('exit', () => resolveExit()));
    signalGroup(running, 'SIGTERM');
    const done = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
    if (!done) {
      signalGroup(running, 'SIGKILL');
      await exited;
    }
  };

  const stop = async () => {
    await stopChild();
    process.off('exit', onParentExit);
    if (ownPersist) rmSync(persistTo, { recursive: true, force: true });
    disposeConfig();
  };

  try {
    await start();
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    persistTo,
    secret,
    output: () => log,
    stop,
    restart: async () => {
      await stopChild();
      await start();
    },
  };
}

// --- internal helpers ---

/** Signals the process group wrangler leads (it spawns workerd), by its own pid only. */
function signalGroup(running, signal) {
  if (!running || running.exitCode !== null || running.pid === undefined) return;
  try {
    process.kill(-running.pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * The config itself, or a copy without `[assets]` when its directory (the devtools build) is missing; `dispose`
 * removes the copy's temporary directory when wrangler is stopped.
 */
function usableConfig(path) {
  const text = readFileSync(path, 'utf8');
  const assets = /\[assets\][^[]*?directory\s*=\s*"([^"]+)"/.exec(text);
  if (!assets || existsSync(resolve(dirname(path), assets[1]))) return { path, dispose: () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'mmb-wrangler-config-'));
  const rebased = text.replace(/\[assets\][\s\S]*?(?=\n\[)/, '').replace(/^main\s*=\s*"([^"]+)"/m, (_, main) => {
    const absolute = isAbsolute(main) ? main : resolve(dirname(path), main);
    return `main = "${relative(dir, absolute)}"`;
  });
  const copy = join(dir, 'wrangler.toml');
  writeFileSync(copy, rebased);
  // wrangler reads .dev.vars next to the config.
  const devVars = join(dirname(path), '.dev.vars');
  if (existsSync(devVars)) writeFileSync(join(dir, '.dev.vars'), readFileSync(devVars));
  return { path: copy, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

function sleep(ms) {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}
