// A real redis-server on a free loopback port, in its own temp directory, for the tests and the benchmarks.
// The one launcher of redis-server: sdk/test/redis and bench/redis.mjs import it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { freePort } from './ports.mjs';

const binary = process.env.REDIS_SERVER ?? 'redis-server';
const READY_TIMEOUT_MS = 10_000;

/**
 * Starts redis-server and waits until it answers. See redis-server.d.mts for the options.
 *
 * ```js
 * const server = await startRedis({ appendonly: true });
 * // … new RedisStorageBackend({ url: server.url }) …
 * await server.stop(); await server.start(); // same port, same directory
 * await server.dispose();
 * ```
 */
export async function startRedis(options = {}) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'mmb-redis-'));
  const args = ['--bind', '127.0.0.1', '--save', '', '--dir', dir, '--daemonize', 'no'];
  args.push('--appendonly', options.appendonly ? 'yes' : 'no');
  if (options.appendonly) args.push('--appendfsync', 'always');
  const { tls } = options;
  if (tls) {
    // TLS only: the plain port is off, so nothing can talk to this server unencrypted.
    args.push('--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key);
    args.push('--tls-ca-cert-file', tls.ca, '--tls-auth-clients', tls.authClients ? 'yes' : 'no');
  } else args.push('--port', String(port));
  if (options.acl) {
    const file = join(dir, 'users.acl');
    writeFileSync(file, `${options.acl.join('\n')}\n`);
    args.push('--aclfile', file);
  }
  args.push(...(options.args ?? []));
  let proc;
  const server = {
    url: `${tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
    port,
    dir,
    async start() {
      const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      proc = child;
      let err = '';
      child.stderr?.on('data', (d) => {
        err += d.toString();
      });
      const failed = new Promise((_, reject) => {
        child.once('error', (e) => reject(new Error(`cannot start ${binary}: ${e.message} (apt-get install redis-server)`)));
        child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${err}`)));
      });
      failed.catch(() => {});
      await Promise.race([waitForAnswer(port, Boolean(tls)), failed]);
    },
    async stop(hard = false) {
      const child = proc;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGCONT');
      child.kill(hard ? 'SIGKILL' : 'SIGTERM');
      await gone;
    },
    freeze() {
      proc?.kill('SIGSTOP');
    },
    thaw() {
      proc?.kill('SIGCONT');
    },
    async dispose() {
      await server.stop(true);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await server.start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return server;
}

// --- internal helpers ---

/** Polls with PING until Redis answers (a NOAUTH refusal counts: the server is up, it wants a user). */
async function waitForAnswer(port, tls) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (await answers(port, tls)) return;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function answers(port, tls) {
  return new Promise((resolve) => {
    // Only a liveness probe: the certificate is checked by the code under test, not here.
    const socket = tls
      ? tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => socket.write('PING\r\n'))
      : createConnection({ port, host: '127.0.0.1' }, () => socket.write('PING\r\n'));
    socket.setTimeout(500);
    socket.once('data', (d) => {
      socket.destroy();
      const reply = d.toString();
      resolve(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
