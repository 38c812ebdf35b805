import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStorageBackend } from '../../src/backends/file.js';
import { bundleChild } from './bundle.js';
import { kill, startChild } from './child.js';

const directory = mkdtempSync(join(tmpdir(), 'mmb-file-crash-'));
let writer: string;
beforeAll(async () => {
  writer = await bundleChild(join(import.meta.dirname, 'fixtures', 'writer.ts'));
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('FileStorageBackend crash safety (fsync: always)', () => {
  it('keeps every acknowledged message, gap-free, across 20 SIGKILLs mid-stream', async () => {
    const acked = new Set<number>();
    for (let round = 0; round < 20; round++) {
      // Each round reopens the room left by a killed process: a stale lock to take over, maybe a torn record to cut.
      const child = startChild(writer, [directory, 'crash']);
      await child.ready;
      await new Promise((resolve) => setTimeout(resolve, 20 + ((round * 37) % 120)));
      await kill(child);
      for (const line of child.lines) if (line.startsWith('ack ')) acked.add(Number(line.slice(4)));
    }
    expect(acked.size).toBeGreaterThan(20);
    const storage = new FileStorageBackend({ directory });
    try {
      const room = await storage.getRoom('crash');
      const ids: number[] = [];
      for (let after = 0; ; ) {
        const page = await storage.history('crash', after, 1000);
        if (page.length === 0) break;
        ids.push(...page.map((m) => m.id));
        after = page[page.length - 1]?.id ?? after;
      }
      expect(ids).toEqual(Array.from({ length: room.lastId }, (_, i) => i + 1));
      const missing = [...acked].filter((id) => id > room.lastId);
      expect(missing).toEqual([]);
      // The room keeps working after all that.
      const next = await storage.append('crash', {
        timestamp: 1,
        sender: 'writer',
        content: 'after the crashes',
        contentJson: '"after the crashes"',
        recipients: [],
        audience: 'members-except-sender',
        routing: { policy: 'broadcast', requested: null },
      });
      expect(next.message.id).toBe(room.lastId + 1);
      expect(next.message.recipients).toEqual(['reader']);
    } finally {
      await storage.close();
    }
  }, 120_000);
});
