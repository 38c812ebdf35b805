import { describe, it } from 'vitest';
import { InMemoryStorageBackend } from '../../src/backends/memory/index.js';
import { storageBackendSuite } from '../../src/testing/index.js';

storageBackendSuite('InMemoryStorageBackend', {
  create: ({ maxMessages }) => new InMemoryStorageBackend({ maxMessages }),
  // One process, one store: another writer shares the same instance.
  reopen: (backend) => backend,
  test: { describe, it },
});
