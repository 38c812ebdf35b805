import { afterEach, describe, expect, it } from 'vitest';
import { RedisStorageBackend } from '../../src/backends/redis/index.js';
import { MessageBus } from '../../src/core/bus.js';
import { MessageBusError } from '../../src/core/errors.js';
import { Message } from '../../src/core/message.js';
import { BroadcastRoutingPolicy } from '../../src/routing-policies/broadcast.js';
import { type RedisServer, startRedis } from './server.js';

const servers: RedisServer[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close().catch(() => {});
  for (const server of servers.splice(0)) await server.dispose();
});

async function setup(options: { appendonly?: boolean; commandTimeoutMs?: number } = {}) {
  const server = await startRedis({ appendonly: options.appendonly });
  servers.push(server);
  const storage = new RedisStorageBackend({ url: server.url, commandTimeoutMs: options.commandTimeoutMs ?? 2000 });
  const bus = new MessageBus(storage, new BroadcastRoutingPolicy(), { room: 'r', logLevel: 'silent' });
  closers.push(() => bus.close());
  await bus.connectAgent('a');
  await bus.connectAgent('b');
  return { server, storage, bus };
}

/** Runs `op`, returning the error it rejects with and how long that took. */
async function failure(op: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  try {
    await op();
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
  throw new Error('expected the operation to fail');
}

async function eventually<T>(op: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await op();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

describe('RedisStorageBackend when Redis fails', () => {
  it('a restart: operations fail fast with STORAGE_FAILURE, then work again; with appendonly nothing acknowledged is lost', async () => {
    const { server, storage, bus } = await setup({ appendonly: true });
    const before = await bus.sendMessage(new Message('a', 'before the restart'));
    await server.stop();
    for (const op of [() => bus.sendMessage(new Message('a', 'while down')), () => bus.fetchMessages('b'), () => storage.getRoom('r')]) {
      const { error, ms } = await failure(op);
      expect(MessageBusError.is(error, 'STORAGE_FAILURE')).toBe(true);
      expect(ms).toBeLessThan(3000); // bounded by commandTimeoutMs (2000) plus slack; in practice immediate while disconnected
    }
    await server.start();
    // Reconnects on its own; the script cache is empty after a restart, so this also exercises the EVAL fallback.
    const after = await eventually(() => bus.sendMessage(new Message('a', 'after the restart')));
    expect(after.id).toBe(before.id + 1);
    expect((await bus.fetchMessages('b')).map((m) => m.content)).toEqual(['before the restart', 'after the restart']);
  }, 30_000);

  it('a hard kill without persistence loses the data but the backend keeps working on the empty server', async () => {
    const { server, storage, bus } = await setup();
    expect((await bus.sendMessage(new Message('a', 'lost'))).recipients).toEqual(['b']); // audience 1 = a, b
    await server.stop(true);
    await server.start();
    await eventually(() => storage.getRoom('r'));
    expect((await storage.getRoom('r')).lastId).toBe(0);
    for (const id of ['x', 'y', 'z']) await storage.putMember('r', { id, online: true });
    expect((await storage.getMembers('r')).map((m) => m.id)).toEqual(['x', 'y', 'z']);
    // The new server numbers audiences from 1 again: the old cached audience must not be reused.
    const fresh = await bus.sendMessage(new Message('x', 'new world'));
    expect({ id: fresh.id, recipients: fresh.recipients }).toEqual({ id: 1, recipients: ['y', 'z'] });
    expect((await bus.fetchMessages('y')).map((m) => m.recipients)).toEqual([['y', 'z']]);
  }, 30_000);

  it('a frozen Redis (SIGSTOP): a send fails within commandTimeoutMs saying its outcome is unknown; the retry with the same key is safe', async () => {
    const { server, bus } = await setup({ commandTimeoutMs: 1000 });
    const message = new Message('a', 'maybe stored', undefined, { idempotencyKey: 'retry-me' });
    // A first send while Redis is well: the bus now holds the member list (kept fresh over pub/sub), so the
    // frozen send below gets as far as the append itself.
    await bus.sendMessage(new Message('a', 'warm-up'));
    server.freeze();
    let thawed = false;
    try {
      const { error, ms } = await failure(() => bus.sendMessage(message));
      expect(MessageBusError.is(error, 'STORAGE_FAILURE')).toBe(true);
      expect((error as MessageBusError).message).toContain('outcome is unknown');
      expect((error as MessageBusError).details.outcomeUnknown).toBe(true);
      expect(ms).toBeGreaterThanOrEqual(950);
      expect(ms).toBeLessThan(3000);
      const fetchFailure = await failure(() => bus.fetchMessages('b'));
      expect(MessageBusError.is(fetchFailure.error, 'STORAGE_FAILURE')).toBe(true);
      server.thaw();
      thawed = true;
      // The frozen append runs once Redis wakes up; the retry finds it by its key instead of storing it twice.
      const retried = await eventually(() => bus.sendMessage(message));
      expect(retried.content).toBe('maybe stored');
      const history = await bus.history();
      expect(history.filter((m) => m.idempotencyKey === 'retry-me')).toHaveLength(1);
      expect(history.map((m) => m.id)).toEqual(Array.from({ length: history.length }, (_, i) => i + 1));
    } finally {
      if (!thawed) server.thaw();
    }
  }, 30_000);

  it('an unreachable server fails within the timeout, and bad options are refused', async () => {
    const storage = new RedisStorageBackend({ url: 'redis://127.0.0.1:1', commandTimeoutMs: 300 });
    closers.push(() => storage.close());
    const { error, ms } = await failure(() => storage.getRoom('r'));
    expect(MessageBusError.is(error, 'STORAGE_FAILURE')).toBe(true);
    expect(ms).toBeLessThan(2000);
    for (const options of [
      {},
      { url: 'http://x' },
      { url: 'redis://x', client: {} },
      { client: {} },
      { url: 'redis://x', keyPrefix: 'a{b}' },
      { url: 'redis://x', maxMessages: -1 },
      { url: 'redis://x', commandTimeoutMs: 0 },
    ]) {
      expect(() => new RedisStorageBackend(options as never)).toThrow(MessageBusError);
    }
  });

  it('works with a client the application created and leaves it open on close', async () => {
    const server = await startRedis();
    servers.push(server);
    const { createClient } = await import('redis');
    const client = createClient({ url: server.url });
    client.on('error', () => {});
    await client.connect();
    const storage = new RedisStorageBackend({ client: client as never, keyPrefix: 'app:' });
    await storage.putMember('r', { id: 'a', online: true });
    expect(await client.exists('app:{r}:join')).toBe(1);
    await storage.close();
    expect(await client.ping()).toBe('PONG');
    await client.close();
  });

  it('a watch started while Redis is down begins delivering once Redis is up', async () => {
    const server = await startRedis();
    servers.push(server);
    await server.stop();
    const watcher = new RedisStorageBackend({ url: server.url, commandTimeoutMs: 300 });
    closers.push(() => watcher.close());
    const seen: number[] = [];
    watcher.watch('late', (m) => void seen.push(m.id));
    await new Promise((resolve) => setTimeout(resolve, 500));
    await server.start();
    const writer = new RedisStorageBackend({ url: server.url });
    closers.push(() => writer.close());
    await writer.putMember('late', { id: 'a', online: true });
    let lastId = 0;
    await eventually(async () => {
      lastId = (
        await writer.append('late', {
          timestamp: 1,
          sender: 'a',
          content: 'hi',
          contentJson: '"hi"',
          recipients: [],
          audience: 'members',
          routing: { policy: 'test', requested: null },
        })
      ).message.id;
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (!seen.includes(lastId)) throw new Error('not delivered yet');
    });
    // Live from when the subscription came up (what was appended before it is the bus's fetch to find).
    expect(seen.at(-1)).toBe(lastId);
  }, 30_000);

  it('dropped connections (CLIENT KILL): operations and live delivery resume without a restart of the process', async () => {
    const { server, bus } = await setup();
    const other = new MessageBus(new RedisStorageBackend({ url: server.url }), new BroadcastRoutingPolicy(), {
      room: 'r',
      logLevel: 'silent',
    });
    closers.push(() => other.close());
    const seen: unknown[] = [];
    other.subscribe('b', (m) => void seen.push(m.content), { after: 0 });
    await bus.sendMessage(new Message('a', 'before'));
    await eventually(async () => {
      if (!seen.includes('before')) throw new Error('not yet');
    });
    const { createClient } = await import('redis');
    const admin = createClient({ url: server.url });
    admin.on('error', () => {});
    await admin.connect();
    // Every other connection: both backends' command and pub/sub connections.
    await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes']);
    await admin.close();
    await eventually(() => bus.sendMessage(new Message('a', 'after', undefined, { idempotencyKey: 'after-drop' })));
    await eventually(async () => {
      if (!seen.includes('after')) throw new Error('not yet');
    });
    expect(seen).toEqual(['before', 'after']);
  }, 30_000);
});
