// The file backend's conversation storage on disk: a room written by 0.1.0 (no threads file) opens and threads on,
// a lost or torn threads file is rebuilt from the log, and compaction keeps the threads of what it retains.
import { cpSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { FileStorageBackend } from '../../src/backends/file/index.js';
import { Message, MessageBus } from '../../src/index.js';
import { BroadcastRoutingPolicy } from '../../src/routing-policies/index.js';
import { checkMigratedRoom } from '../fixtures/v0.1.0/expectations.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/v0.1.0/file');
const base = mkdtempSync(join(tmpdir(), 'mmb-file-conv-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(base, `d${++n}`);

describe('FileStorageBackend conversations on disk', () => {
  it('opens a room written by 0.1.0: its messages are their own threads, and replies thread on them', async () => {
    const directory = freshDir();
    cpSync(fixtures, directory, { recursive: true });
    expect(readdirSync(join(directory, 'r-legacy')).some((f) => f.startsWith('threads.'))).toBe(false);
    await checkMigratedRoom(new FileStorageBackend({ directory }), async () => new FileStorageBackend({ directory }));
    // The thread file was written from the log on the first open: a header and one entry per message.
    const threads = join(directory, 'r-legacy', 'threads.0.bin');
    expect(statSync(threads).size).toBe(20 + 4 * 9);
  });

  it('rebuilds a lost or torn thread file from the log', async () => {
    const directory = freshDir();
    const storage = new FileStorageBackend({ directory, fsync: 'never' });
    const bus = new MessageBus(storage, new BroadcastRoutingPolicy(), { room: 'r', logLevel: 'silent' });
    await bus.connectAgent('a');
    await bus.connectAgent('b');
    const root = await bus.sendMessage(new Message('a', 'root'));
    let parent = root;
    for (let i = 0; i < 6; i++)
      parent = await bus.sendMessage(new Message(i % 2 ? 'a' : 'b', `r${i}`, undefined, { inReplyTo: parent.id }));
    await bus.sendMessage(new Message('a', 'another root'));
    const expected = (await bus.fetchThread('a', root.id)).map((m) => m.id);
    expect(expected).toEqual([1, 2, 3, 4, 5, 6, 7]);
    await bus.close();
    const file = join(directory, 'r-r', 'threads.0.bin');
    for (const damage of [() => truncateSync(file, 20 + 4 * 3 + 2), () => unlinkSync(file)]) {
      damage();
      const reopened = new FileStorageBackend({ directory });
      const again = new MessageBus(reopened, new BroadcastRoutingPolicy(), { room: 'r', logLevel: 'silent' });
      expect((await again.fetchThread('a', root.id)).map((m) => m.id)).toEqual(expected);
      await again.close();
      expect(statSync(file).size).toBe(20 + 4 * 8);
    }
  });

  it('compaction keeps the threads of the retained messages', async () => {
    const directory = freshDir();
    const storage = new FileStorageBackend({ directory, fsync: 'never', maxMessages: 100 });
    const bus = new MessageBus(storage, new BroadcastRoutingPolicy(), { room: 'r', logLevel: 'silent' });
    await bus.connectAgent('a');
    await bus.connectAgent('b');
    // Each tenth message answers the previous tenth: one long thread through 3,000 messages.
    let parent: number | undefined;
    for (let i = 1; i <= 3000; i++) {
      const sent = await bus.sendMessage(new Message('a', i, undefined, i % 10 === 0 && parent !== undefined ? { inReplyTo: parent } : {}));
      if (i % 10 === 0) parent = sent.id;
    }
    const thread = 10;
    const retained = (await bus.fetchThread('b', thread, { limit: 1000 })).map((m) => m.id);
    expect(retained).toEqual(Array.from({ length: 10 }, (_, i) => 2910 + i * 10));
    await bus.close();
    expect(readdirSync(join(directory, 'r-r')).filter((f) => f.startsWith('threads.'))).not.toContain('threads.0.bin');
    const reopened = new MessageBus(new FileStorageBackend({ directory, maxMessages: 100 }), new BroadcastRoutingPolicy(), {
      room: 'r',
      logLevel: 'silent',
    });
    expect((await reopened.fetchThread('b', thread, { limit: 1000 })).map((m) => m.id)).toEqual(retained);
    await reopened.close();
  });
});
