import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileStorageBackend } from '../../src/backends/file/index.js';
import { differential, firstDifference, SEEDS } from '../support/differential/index.js';
import { sdkSources as sdk } from '../support/differential/sdk-sources.js';

const directory = mkdtempSync(join(tmpdir(), 'mmb-file-diff-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('FileStorageBackend against the scanning reference', () => {
  for (const [seed, maxMessages] of [...SEEDS, [8, 60]] as const) {
    it(`random history #${seed}${maxMessages ? `, maxMessages ${maxMessages}` : ''}, two handles, reopened from disk`, async () => {
      const dir = join(directory, `s${seed}`);
      // Each handle is another FileStorageBackend on the directory (they share the open room in this process).
      const store = { open: () => new FileStorageBackend({ directory: dir, fsync: 'never', maxMessages }), persistent: true };
      const result = await differential(store, { sdk, seed, maxMessages, steps: 300 });
      expect(firstDifference(result)).toBeUndefined();
    });
  }
});
