import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileStorageBackend } from '../../src/backends/file/index.js';
import { MessageBus } from '../../src/core/bus.js';
import { MessageBusError } from '../../src/core/errors.js';
import { Message } from '../../src/core/message.js';
import type { RoutingPolicy } from '../../src/core/types.js';
import { BroadcastRoutingPolicy } from '../../src/routing-policies/broadcast.js';
import { IndividualRoutingPolicy } from '../../src/routing-policies/individual.js';

const base = mkdtempSync(join(tmpdir(), 'mmb-file-persist-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(base, `d${++n}`);

function open(directory: string, options: { maxMessages?: number; fsync?: 'always' | 'batch' | 'never' } = {}) {
  const storage = new FileStorageBackend({ directory, ...options });
  return {
    storage,
    bus: (policy: RoutingPolicy = new BroadcastRoutingPolicy()) =>
      new MessageBus(storage, policy, { room: 'r', logLevel: 'silent', closeStorage: false }),
  };
}

describe('FileStorageBackend on disk', () => {
  it('a new process sees members, groups, cursors, counters, broadcast audiences and idempotency keys', async () => {
    const directory = freshDir();
    const first = open(directory);
    const bus = first.bus();
    await bus.connectAgent('a', { groups: ['g1'] });
    await bus.connectAgent('b');
    const one = await bus.sendMessage(new Message('a', { hello: ['world', 1] }, undefined, { idempotencyKey: 'k1' }));
    await bus.connectAgent('c');
    await bus.sendMessage(new Message('b', 'second'));
    await bus.ackMessages('b', 1);
    await bus.removeAgent('c');
    await bus.close();
    const before = await first.storage.getRoom('r');
    await first.storage.close();

    const second = open(directory);
    expect(await second.storage.getRoom('r')).toEqual(before);
    const again = second.bus();
    const retry = await again.sendMessage(new Message('a', 'changed', undefined, { idempotencyKey: 'k1' }));
    expect(retry).toEqual(one);
    expect((await again.history()).map((m) => [m.id, m.recipients])).toEqual([
      [1, ['b']],
      [2, ['a', 'c']],
    ]);
    expect((await again.fetchMessages('b')).map((m) => m.id)).toEqual([]);
    expect((await again.sendMessage(new Message('b', 'third'))).recipients).toEqual(['a']);
    expect(await second.storage.listRooms()).toEqual(['r']);
    await second.storage.close();
  });

  it('cuts a torn last record and an index that runs past the log, and keeps the room working', async () => {
    const directory = freshDir();
    const first = open(directory, { fsync: 'never' });
    const bus = first.bus();
    await bus.connectAgent('a');
    await bus.connectAgent('b');
    for (let i = 1; i <= 10; i++) await bus.sendMessage(new Message('a', i));
    await first.storage.close();
    const log = join(directory, 'r-r', 'log.0.bin');
    const goodSize = statSync(log).size;
    // A record whose header promises 500 bytes of which only a few were written.
    const torn = Buffer.alloc(20);
    torn.writeUInt32LE(500, 0);
    appendFileSync(log, torn);
    // And an index entry for it that got written (the index is checked against the log).
    appendFileSync(join(directory, 'r-r', 'index.0.bin'), Buffer.alloc(60, 7));

    const second = open(directory);
    expect((await second.storage.getRoom('r')).lastId).toBe(10);
    expect(statSync(log).size).toBe(goodSize);
    const next = await second.bus().sendMessage(new Message('a', 11));
    expect(next.id).toBe(11);
    await second.storage.close();
  });

  it('rebuilds a lost index from the log and a torn journal line is cut', async () => {
    const directory = freshDir();
    const first = open(directory, { fsync: 'batch' });
    const bus = first.bus(new IndividualRoutingPolicy());
    for (const agent of ['a', 'b', 'c']) await bus.connectAgent(agent);
    for (let i = 1; i <= 30; i++) await bus.sendMessage(new Message('a', i, [i % 2 ? 'b' : 'c']));
    await first.storage.close();
    truncateSync(join(directory, 'r-r', 'index.0.bin'), 0);
    appendFileSync(join(directory, 'r-r', 'meta.jsonl'), '{"t":"ack","id":"b","c":');

    const second = open(directory);
    const reopened = second.bus(new IndividualRoutingPolicy());
    expect((await reopened.fetchMessages('b', 0)).map((m) => m.content)).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29]);
    expect((await reopened.fetchMessages('c', 20, { limit: 3 })).map((m) => m.id)).toEqual([22, 24, 26]);
    expect(readFileSync(join(directory, 'r-r', 'meta.jsonl'), 'utf8').endsWith('\n')).toBe(true);
    await reopened.ackMessages('b', 3);
    await second.storage.close();
    const third = open(directory);
    expect((await third.storage.getRoom('r')).members.find((m) => m.id === 'b')?.cursor).toBe(3);
    await third.storage.close();
  });

  it('retention compacts the files into a new generation, drops trimmed idempotency keys and survives a reopen', async () => {
    const directory = freshDir();
    const first = open(directory, { maxMessages: 100, fsync: 'never' });
    const bus = first.bus(new IndividualRoutingPolicy());
    await bus.connectAgent('a');
    await bus.connectAgent('b');
    await bus.connectAgent('c');
    for (let i = 1; i <= 3000; i++) await bus.sendMessage(new Message('a', i, [i % 3 ? 'b' : 'c'], { idempotencyKey: `k${i}` }));
    const files = readdirSync(join(directory, 'r-r')).filter((f) => f.endsWith('.bin'));
    expect(files.some((f) => f.startsWith('log.0.'))).toBe(false);
    expect(files).toHaveLength(2);
    expect(statSync(join(directory, 'r-r', files.find((f) => f.startsWith('log'))!)).size).toBeLessThan(1200 * 120); // at most ~1024 dead records wait for the next compaction;
    // The new generation's index is its own (not rebuilt on open): it starts at the log's first id, at offset 20.
    const index = readFileSync(join(directory, 'r-r', files.find((f) => f.startsWith('index'))!));
    const firstId = readFileSync(join(directory, 'r-r', files.find((f) => f.startsWith('log'))!)).readDoubleLE(12);
    expect(firstId).toBeGreaterThan(1);
    expect([index.readDoubleLE(12), index.readUInt32LE(20), index.readDoubleLE(24)]).toEqual([firstId, firstId, 20]);
    const retried = await bus.sendMessage(new Message('a', 'again', ['b'], { idempotencyKey: 'k1' }));
    expect(retried.id).toBe(3001); // k1 was trimmed away with its message
    await first.storage.close();

    const second = open(directory, { maxMessages: 100 });
    const room = await second.storage.getRoom('r');
    expect({ lastId: room.lastId, oldestId: room.oldestId }).toEqual({ lastId: 3001, oldestId: 2902 });
    expect(room.members.find((m) => m.id === 'a')?.sentCount).toBe(3001);
    const reopened = second.bus(new IndividualRoutingPolicy());
    expect((await reopened.history(0, { limit: 1000 })).map((m) => m.id)).toEqual(Array.from({ length: 100 }, (_, i) => 2902 + i));
    const error = await reopened.fetchMessages('c', 0).catch((e: unknown) => e);
    expect(MessageBusError.is(error, 'CURSOR_EXPIRED') && error.details.oldestId).toBe(2902);
    expect((await reopened.fetchMessages('c', 2901)).map((m) => m.content)).toEqual(
      Array.from({ length: 100 }, (_, i) => 2902 + i).filter((i) => i % 3 === 0),
    );
    expect((await reopened.sendMessage(new Message('a', 'dup', ['b'], { idempotencyKey: 'k3000' }))).id).toBe(3000);
    await second.storage.close();
    // Opened without retention, the trimmed ids stay trimmed.
    const third = open(directory);
    expect((await third.storage.getRoom('r')).oldestId).toBe(2902);
    expect((await third.storage.history('r', 0, 1))[0]?.id).toBe(2902);
    await third.storage.close();
  });

  it('refuses a journal of another format version and bad options, changing nothing', async () => {
    const directory = freshDir();
    const first = open(directory);
    await first.storage.putMember('r', { id: 'a', online: true });
    await first.storage.close();
    const meta = join(directory, 'r-r', 'meta.jsonl');
    const text = readFileSync(meta, 'utf8');
    writeFileSync(meta, text.replace('"version":1', '"version":99'));
    const second = open(directory);
    const error = await second.storage.getRoom('r').catch((e: unknown) => e);
    expect(MessageBusError.is(error, 'STORAGE_FAILURE')).toBe(true);
    expect((error as Error).message).toContain('version 99');
    expect(readFileSync(meta, 'utf8')).toBe(text.replace('"version":1', '"version":99'));
    await second.storage.close();
    for (const options of [
      {},
      { directory: '' },
      { directory, fsync: 'sometimes' },
      { directory, maxMessages: 0 },
      { directory, batchIntervalMs: -1 },
    ]) {
      expect(() => new FileStorageBackend(options as never)).toThrow(MessageBusError);
    }
  });

  it('refuses a room id that could name another path, creating nothing', async () => {
    const directory = freshDir();
    const storage = new FileStorageBackend({ directory });
    for (const room of ['../escape', 'a/b', '']) {
      await expect(storage.putMember(room, { id: 'a', online: true })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    expect(() => readdirSync(directory)).toThrow(); // not even the base directory was created
    await storage.close();
  });
});
