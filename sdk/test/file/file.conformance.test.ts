import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { FileStorageBackend } from '../../src/backends/file/index.js';
import type { StorageBackend } from '../../src/core/types.js';
import { storageBackendSuite } from '../../src/testing/index.js';

// One directory for the whole suite: each test uses a fresh room, as the suite expects.
const directory = mkdtempSync(join(tmpdir(), 'mmb-file-conformance-'));
const dirs = new WeakMap<StorageBackend, { fsync: 'always' | 'never' }>();
afterAll(() => rmSync(directory, { recursive: true, force: true }));

for (const fsync of ['always', 'never'] as const) {
  storageBackendSuite(`FileStorageBackend (fsync: '${fsync}')`, {
    create: ({ maxMessages }) => {
      const backend = new FileStorageBackend({ directory: join(directory, fsync), fsync, maxMessages });
      dirs.set(backend, { fsync });
      return backend;
    },
    // The file backend is single-process: a second instance on the same directory in this process shares the
    // open room (its lock is per process), which is what another MessageBus in the same process would do.
    reopen: (backend) => new FileStorageBackend({ directory: join(directory, dirs.get(backend)?.fsync ?? 'always'), fsync }),
    test: { describe, it },
  });
}
