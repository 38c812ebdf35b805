import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileStorageBackend } from '../../src/backends/file.js';
import { differential } from './differential.js';

const directory = mkdtempSync(join(tmpdir(), 'mmb-file-diff-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('FileStorageBackend behaves exactly like the in-memory reference', () => {
  for (const [seed, maxMessages] of [
    [1, undefined],
    [2, undefined],
    [3, 25],
    [4, 60],
  ] as const) {
    it(`random history #${seed}${maxMessages ? `, maxMessages ${maxMessages}` : ''}, also after a reopen from disk`, async () => {
      const dir = join(directory, `s${seed}`);
      const storage = new FileStorageBackend({ directory: dir, fsync: 'never', maxMessages });
      const { expected, actual } = await differential(storage, 'room', seed, maxMessages);
      expect(actual).toEqual(expected);
      const before = [await storage.getRoom('room'), await storage.history('room', 0, 1000)];
      await storage.close();
      const reopened = new FileStorageBackend({ directory: dir, maxMessages });
      expect([await reopened.getRoom('room'), await reopened.history('room', 0, 1000)]).toEqual(before);
      await reopened.close();
    });
  }
});
