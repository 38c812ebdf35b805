// README example "Durable Objects": new DurableObjectStorageBackend(ctx.storage, { maxMessages }) inside a real
// SQLite-backed Durable Object, checked by the whole storage conformance suite.
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { DurableObjectStorageBackend } from 'modular-message-bus-library/backends';
import { storageBackendSuite } from 'modular-message-bus-library/testing';
import { describe, it } from 'vitest';

// Each test body runs inside one real SQLite-backed Durable Object, so the
// backend gets a genuine ctx.storage (sql + transactionSync) in workerd.
let storage: DurableObjectStorage | undefined;
const stub = env.CHAT_ROOM.get(env.CHAT_ROOM.idFromName('conformance'));

storageBackendSuite('DurableObjectStorageBackend', {
  create: ({ maxMessages }) => new DurableObjectStorageBackend(storage as DurableObjectStorage, { maxMessages }),
  // Another bus in the same object opens a second backend over the same ctx.storage.
  reopen: () => new DurableObjectStorageBackend(storage as DurableObjectStorage),
  test: {
    describe,
    it: (name, body, timeout) =>
      it(
        name,
        () =>
          runInDurableObject(stub, async (_instance, state) => {
            storage = state.storage;
            await body();
          }),
        timeout,
      ),
  },
});
