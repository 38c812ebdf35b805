import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStorageBackend } from '../../src/backends/file/index.js';
import { bundleChild } from './bundle.js';
import { kill, startChild } from './child.js';

const directory = mkdtempSync(join(tmpdir(), 'mmb-file-crash-'));
let writer: string;
beforeAll(async () => {
  writer = await bundleChild(join(import.meta.dirname, 'fixtures', 'writer.ts'));
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('FileStorageBackend crash safety', () => {
  it.each([
    ['always', 20],
    ['batch', 8],
  ] as const)(
    'fsync %s: keeps every acknowledged message, gap-free, across %i SIGKILLs mid-stream',
    async (fsync, rounds) => {
      // A process crash loses nothing in any mode (every write is a finished write() into the page cache); only
      // a power loss tells the modes apart, and that a test cannot produce.
      const room = `crash-${fsync}`;
      const acked = new Set<number>();
      for (let round = 0; round < rounds; round++) {
        // Each round reopens the room left by a killed process: a stale lock to take over, maybe a torn record to cut.
        const child = startChild(writer, [directory, room, fsync]);
        await child.ready;
        await new Promise((resolve) => setTimeout(resolve, 20 + ((round * 37) % 120)));
        await kill(child);
        for (const line of child.lines) if (line.startsWith('ack ')) acked.add(Number(line.slice(4)));
      }
      expect(acked.size).toBeGreaterThan(20);
      const storage = new FileStorageBackend({ directory });
      try {
        const state = await storage.getRoom(room);
        const ids: number[] = [];
        for (let after = 0; ; ) {
          const page = await storage.history(room, after, 1000);
          if (page.length === 0) break;
          ids.push(...page.map((m) => m.id));
          after = page[page.length - 1]?.id ?? after;
        }
        expect(ids).toEqual(Array.from({ length: state.lastId }, (_, i) => i + 1));
        const missing = [...acked].filter((id) => id > state.lastId);
        expect(missing).toEqual([]);
        // The room keeps working after all that.
        const next = await storage.append(room, {
          timestamp: 1,
          sender: 'writer',
          content: 'after the crashes',
          contentJson: '"after the crashes"',
          recipients: [],
          audience: 'members-except-sender',
          routing: { policy: 'broadcast', requested: null },
        });
        expect(next.message.id).toBe(state.lastId + 1);
        expect(next.message.recipients).toEqual(['reader']);
      } finally {
        await storage.close();
      }
    },
    120_000,
  );
});
