// DurableObjectStorageBackend inside a real SQLite-backed Durable Object, against the scanning reference:
// the same seeded histories the SDK's backends run (sdk/test/support/differential).
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { Message, MessageBus, MessageBusError } from 'modular-message-bus-library';
import { DurableObjectStorageBackend } from 'modular-message-bus-library/backends';
import { BroadcastRoutingPolicy, IndividualRoutingPolicy, SubgroupRoutingPolicy } from 'modular-message-bus-library/routing-policies';
import { describe, expect, it } from 'vitest';
import { differential, firstDifference, type Sdk, SEEDS } from '../../../sdk/test/support/differential/index.js';

// The built package, as the worker uses it.
const sdk: Sdk = { Message, MessageBus, MessageBusError, BroadcastRoutingPolicy, IndividualRoutingPolicy, SubgroupRoutingPolicy };

describe('DurableObjectStorageBackend against the scanning reference', () => {
  for (const [seed, maxMessages] of SEEDS) {
    it(`random history #${seed}${maxMessages ? `, maxMessages ${maxMessages}` : ''}, two backends over one ctx.storage`, async () => {
      // A fresh object per history; a second handle (and a reopened one) is another backend over the same ctx.storage.
      const stub = env.CHAT_ROOM.get(env.CHAT_ROOM.idFromName(`differential-${seed}-${Date.now()}`));
      const result = await runInDurableObject(stub, async (_instance, state) => {
        const store = { open: () => new DurableObjectStorageBackend(state.storage, { maxMessages }), persistent: true };
        return differential(store, { sdk, seed, maxMessages, steps: 200 });
      });
      expect(firstDifference(result)).toBeUndefined();
    }, 120_000);
  }
});
