import { MessageBus, type MessageBusOptions } from '../core/bus.js';
import { Message } from '../core/message.js';
import type { RoutingPolicy, StorageBackend } from '../core/types.js';
import { BroadcastRoutingPolicy } from '../routing-policies/broadcast.js';
import { IndividualRoutingPolicy } from '../routing-policies/individual.js';
import { SubgroupRoutingPolicy } from '../routing-policies/subgroup.js';
import { conversationCases } from './conversation-suite.js';
import { assert, assertEqual, assertRejects, resolveTestApi, type TestApi, waitFor } from './harness.js';
import { checkOddContentRoundTrip } from './odd-content.js';
import { streamCases } from './stream-suite.js';

/** How the storage suite gets backends. Each test calls `create` with a fresh room id, so backends may share one store. */
export interface StorageSuiteOptions {
  /** A new backend. `maxMessages`, when given, must enable retention of that many messages per room. */
  create: (options: { maxMessages?: number }) => StorageBackend | Promise<StorageBackend>;
  /**
   * A second backend over the same store as `backend`, as another tab or process
   * would open it (for the memory backend: the same instance). Used to check that
   * a new `MessageBus` sees existing rooms and that several writers share ids.
   */
  reopen: (backend: StorageBackend) => StorageBackend | Promise<StorageBackend>;
  /** Called after each test with every backend it created, e.g. to delete files. Backends are closed before. */
  cleanup?: () => Promise<void> | void;
  /** Test-runner functions; default: the runner's globals. */
  test?: Partial<TestApi>;
  /** Per-test timeout in ms (default 20 000). */
  timeout?: number;
}

let roomCounter = 0;

/**
 * The storage conformance suite: every promise of the `StorageBackend`
 * contract, checked through a real `MessageBus`. Run it against a custom
 * backend in your own test runner:
 *
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import { storageBackendSuite } from 'modular-message-bus-library/testing';
 * storageBackendSuite('my backend', { create: () => new MyBackend(), reopen: (b) => b, test: { describe, it } });
 * ```
 */
export function storageBackendSuite(name: string, options: StorageSuiteOptions): void {
  const { describe, it } = resolveTestApi(options.test);
  const timeout = options.timeout ?? 20_000;

  /** Runs `body` with a helper that opens buses on fresh rooms and closes everything afterwards. */
  const test = (title: string, body: (ctx: Ctx) => Promise<void>) =>
    it(
      title,
      async () => {
        const ctx = new Ctx(options);
        try {
          await body(ctx);
        } finally {
          await ctx.dispose();
        }
      },
      timeout,
    );

  describe(`StorageBackend conformance: ${name}`, () => {
    test('ids start at 1 and are strictly increasing and gap-free', async (ctx) => {
      const bus = await ctx.bus(new BroadcastRoutingPolicy());
      await connect(bus, 'a', 'b');
      const ids: number[] = [];
      for (let i = 0; i < 5; i++) ids.push((await bus.sendMessage(new Message('a', `m${i}`))).id);
      assertEqual(ids, [1, 2, 3, 4, 5], 'ids of sequential sends');
    });

    test('concurrent sends get unique, gap-free ids', async (ctx) => {
      const bus = await ctx.bus(new BroadcastRoutingPolicy());
      await connect(bus, 'a', 'b');
      const sent = await Promise.all(Array.from({ length: 40 }, (_, i) => bus.sendMessage(new Message('a', i))));
      assertEqual(
        sent.map((m) => m.id).sort((x, y) => x - y),
        Array.from({ length: 40 }, (_, i) => i + 1),
        'ids of concurrent sends',
      );
      const history = await bus.history(0, { limit: 100 });
      assertEqual(
        history.map((m) => m.id),
        Array.from({ length: 40 }, (_, i) => i + 1),
        'history ids',
      );
    });

    test('stored messages carry timestamp, sender, content, recipients and routing', async (ctx) => {
      const bus = await ctx.bus(new IndividualRoutingPolicy(), { now: () => 1_700_000_000_000 });
      await connect(bus, 'a', 'b', 'c');
      const content = { text: 'héllo 👋', n: 1.5, list: [1, null, true], nested: { deep: ['x'] } };
      const sent = await bus.sendMessage(new Message('a', content, ['c', 'b']));
      assertEqual(
        { ...sent },
        {
          id: 1,
          room: bus.room,
          timestamp: 1_700_000_000_000,
          sender: 'a',
          content,
          recipients: ['b', 'c'],
          routing: { policy: 'individual', requested: ['c', 'b'] },
          thread: 1,
        },
        'the stored message',
      );
      const [fetched] = await bus.fetchMessages('c');
      assertEqual(fetched, sent, 'the fetched message equals the sent one');
    });

    test('fetch returns only what was routed to the agent, ascending, after the given id, up to limit', async (ctx) => {
      const bus = await ctx.bus(new IndividualRoutingPolicy());
      await connect(bus, 'a', 'b', 'c');
      for (let i = 1; i <= 30; i++) await bus.sendMessage(new Message('a', i, [i % 3 === 0 ? 'b' : 'c']));
      const forB = await bus.fetchMessages('b', 0, { limit: 1000 });
      assertEqual(
        forB.map((m) => m.content),
        [3, 6, 9, 12, 15, 18, 21, 24, 27, 30],
        'contents for b',
      );
      const page = await bus.fetchMessages('c', 5, { limit: 3 });
      assertEqual(
        page.map((m) => m.id),
        [7, 8, 10],
        'a page for c after id 5',
      );
      assertEqual(await bus.fetchMessages('a'), [], 'the sender receives nothing');
      assertEqual(await bus.fetchMessages('b', 30), [], 'nothing after the last id');
    });

    test('fetch without an id starts after the acknowledged cursor, which never moves back', async (ctx) => {
      const bus = await ctx.bus(new BroadcastRoutingPolicy());
      await connect(bus, 'a', 'b');
      for (let i = 1; i <= 6; i++) await bus.sendMessage(new Message('a', i));
      assertEqual((await bus.fetchMessages('b')).length, 6, 'all before any ack');
      assertEqual(await bus.ackMessages('b', 4), 4, 'cursor after ack');
      assertEqual(
        (await bus.fetchMessages('b')).map((m) => m.id),
        [5, 6],
        'after the cursor',
      );
      assertEqual(await bus.ackMessages('b', 2), 4, 'an older ack keeps the cursor');
      const b = (await bus.agents()).find((m) => m.id === 'b');
      assertEqual(
        { cursor: b?.cursor, lastRoutedId: b?.lastRoutedId, lag: b?.lag },
        { cursor: 4, lastRoutedId: 6, lag: 2 },
        "b's delivery state",
      );
    });

    test('broadcast reaches the members at send time, not later joiners, and not removed agents', async (ctx) => {
      const bus = await ctx.bus(new BroadcastRoutingPolicy());
      await connect(bus, 'a', 'b', 'c');
      const first = await bus.sendMessage(new Message('a', 'one'));
      assertEqual(first.recipients, ['b', 'c'], 'recipients of the first broadcast');
      await bus.connectAgent('d');
      await bus.removeAgent('c');
      const second = await bus.sendMessage(new Message('b', 'two'));
      assertEqual(second.recipients, ['a', 'd'], 'recipients of the second broadcast');
      assertEqual(
        (await bus.fetchMessages('d')).map((m) => m.content),
        ['two'],
        'the later joiner gets only the later broadcast',
      );
      assertEqual(
        (await bus.fetchMessages('a')).map((m) => m.content),
        ['two'],
        'the sender does not get its own broadcast',
      );
      await assertRejects(bus.fetchMessages('c'), 'UNKNOWN_AGENT', 'a removed agent fetching');
      const [replayed] = await bus.history(0, { limit: 1 });
      assertEqual(replayed?.recipients, ['b', 'c'], 'history keeps the first broadcast audience');
    });

    test('an offline member still receives, and an agent that re-joins starts a fresh membership', async (ctx) => {
      const bus = await ctx.bus(new BroadcastRoutingPolicy());
      await connect(bus, 'a', 'b');
      await bus.disconnectAgent('b');
      await bus.sendMessage(new Message('a', 'while away'));
      await bus.connectAgent('b');
      assertEqual(
        (await bus.fetchMessages('b')).map((m) => m.content),
        ['while away'],
        'queued for the offline member',
      );
      await bus.removeAgent('b');
      await bus.sendMessage(new Message('a', 'after leaving'));
      await bus.connectAgent('b');
      const rejoined = (await bus.agents()).find((m) => m.id === 'b');
      assertEqual(
        { lastRoutedId: rejoined?.lastRoutedId, cursor: rejoined?.cursor },
        { lastRoutedId: 0, cursor: 0 },
        'a fresh membership has nothing routed yet',
      );
      await bus.sendMessage(new Message('a', 'after re-joining'));
      assertEqual(
        (await bus.fetchMessages('b', 0)).map((m) => m.content),
        ['after re-joining'],
        'a new membership sees only its own mail',
      );
    });

    test('subgroup routing stores the union of the groups, minus the sender', async (ctx) => {
      const bus = await ctx.bus(new SubgroupRoutingPolicy());
      await bus.connectAgent('lead', { groups: ['research', 'code'] });
      await bus.connectAgent('r1', { groups: ['research'] });
      await bus.connectAgent('c1', { groups: ['code'] });
      await bus.connectAgent('x');
      const sent = await bus.sendMessage(new Message('lead', 'go', ['research', 'code']));
      assertEqual(sent.recipients, ['c1', 'r1'], 'recipients');
      await bus.joinGroup('x', 'research');
      await bus.leaveGroup('r1', 'research');
      const again = await bus.sendMessage(new Message('c1', 'hi research', ['research']));
      assertEqual(again.recipients, ['lead', 'x'], 'recipients after group changes');
      const room = await bus.storage.getRoom(bus.room);
      assertEqual(
        room.members.map((m) => [m.id, m.groups]),
        [
          ['c1', ['code']],
          ['lead', ['code', 'research']],
          ['r1', []],
          ['x', ['research']],
        ],
        'stored groups',
      );
    });

    test('an idempotency key returns the original message and stores nothing new', async (ctx) => {
      const bus = await ctx.bus(new BroadcastRoutingPolicy());
      await connect(bus, 'a', 'b');
      const first = await bus.sendMessage(new Message('a', 'once', undefined, { idempotencyKey: 'k1' }));
      const again = await bus.sendMessage(new Message('a', 'changed', undefined, { idempotencyKey: 'k1' }));
      assertEqual(again, first, 'the retry returns the original');
      const other = await bus.sendMessage(new Message('b', 'same key, other sender', undefined, { idempotencyKey: 'k1' }));
      assertEqual(other.id, 2, 'another sender may use the same key');
      const room = await bus.storage.getRoom(bus.room);
      assertEqual(room.lastId, 2, 'lastId after the retry');
      assertEqual((await bus.fetchMessages('b')).length, 1, 'b got the message once');
    });

    test('concurrent sends with one idempotency key store one message', async (ctx) => {
      const bus = await ctx.bus(new BroadcastRoutingPolicy());
      await connect(bus, 'a', 'b');
      const results = await Promise.all(
        Array.from({ length: 8 }, () => bus.sendMessage(new Message('a', 'x', undefined, { idempotencyKey: 'same' }))),
      );
      assertEqual(new Set(results.map((m) => m.id)).size, 1, 'distinct ids returned');
      assertEqual((await bus.history()).length, 1, 'messages stored');
    });

    test('a rejected send stores nothing and consumes no id', async (ctx) => {
      const bus = await ctx.bus(new IndividualRoutingPolicy());
      await connect(bus, 'a', 'b');
      await bus.sendMessage(new Message('a', 'first', ['b']));
      await assertRejects(bus.sendMessage(new Message('a', 'nope', ['ghost'])), 'UNKNOWN_RECIPIENT', 'unknown recipient');
      await assertRejects(bus.sendMessage(new Message('ghost', 'nope', ['b'])), 'UNKNOWN_AGENT', 'unknown sender');
      const next = await bus.sendMessage(new Message('a', 'second', ['b']));
      assertEqual(next.id, 2, 'the id after two rejections');
    });

    test('the backend refuses an append from a non-member', async (ctx) => {
      const bus = await ctx.bus(new BroadcastRoutingPolicy());
      await connect(bus, 'a');
      const draft = {
        timestamp: 1,
        sender: 'ghost',
        content: 'x',
        contentJson: '"x"',
        recipients: ['a'],
        audience: 'list' as const,
        routing: { policy: 'test', requested: null },
      };
      // A backend may answer synchronously; a synchronous throw counts as a rejection.
      await assertRejects(
        Promise.resolve().then(() => bus.storage.append(bus.room, draft)),
        'UNKNOWN_AGENT',
        'append by a non-member',
      );
      assertEqual((await bus.storage.getRoom(bus.room)).lastId, 0, 'lastId');
    });

    test('history lists every message of the room in order', async (ctx) => {
      const bus = await ctx.bus(new IndividualRoutingPolicy());
      await connect(bus, 'a', 'b', 'c');
      for (let i = 1; i <= 7; i++) await bus.sendMessage(new Message(i % 2 ? 'a' : 'b', i, ['c']));
      assertEqual(
        (await bus.history(2, { limit: 3 })).map((m) => m.id),
        [3, 4, 5],
        'a history page',
      );
      assertEqual((await bus.history(7)).length, 0, 'history after the last id');
    });

    test('getRoom reports members, cursors, counters and ids; listRooms lists the room', async (ctx) => {
      const bus = await ctx.bus(new BroadcastRoutingPolicy(), { now: () => 42 });
      await bus.connectAgent('a', { groups: ['g'] });
      await bus.connectAgent('b');
      await bus.disconnectAgent('b');
      await bus.sendMessage(new Message('a', 1));
      await bus.sendMessage(new Message('a', 2));
      const room = await bus.storage.getRoom(bus.room);
      assertEqual({ lastId: room.lastId, oldestId: room.oldestId }, { lastId: 2, oldestId: 1 }, 'ids');
      assertEqual(
        room.members.map((m) => ({
          id: m.id,
          online: m.online,
          groups: m.groups,
          sentCount: m.sentCount,
          lastSentAt: m.lastSentAt,
          lastRoutedId: m.lastRoutedId,
        })),
        [
          { id: 'a', online: true, groups: ['g'], sentCount: 2, lastSentAt: 42, lastRoutedId: 0 },
          { id: 'b', online: false, groups: [], sentCount: 0, lastSentAt: null, lastRoutedId: 2 },
        ],
        'members',
      );
      assert((await bus.storage.listRooms()).includes(bus.room), 'listRooms includes the room');
      const empty = await bus.storage.getRoom(`${bus.room}-never-used`);
      assertEqual({ lastId: empty.lastId, members: empty.members }, { lastId: 0, members: [] }, 'an unknown room');
    });

    test('a new bus on reopened storage sees members, groups, cursors and history, and continues the ids', async (ctx) => {
      const bus = await ctx.bus(new SubgroupRoutingPolicy());
      await bus.connectAgent('a', { groups: ['team'] });
      await bus.connectAgent('b', { groups: ['team'] });
      await bus.sendMessage(new Message('a', 'before', ['team']));
      await bus.sendMessage(new Message('a', 'before 2', ['team']));
      await bus.ackMessages('b', 1);
      const other = await ctx.reopenBus(bus, new SubgroupRoutingPolicy());
      assertEqual(
        (await other.agents()).map((m) => [m.id, m.groups, m.cursor]),
        [
          ['a', ['team'], 0],
          ['b', ['team'], 1],
        ],
        'members seen by the new bus',
      );
      assertEqual(
        (await other.fetchMessages('b')).map((m) => m.content),
        ['before 2'],
        'fetch after the stored cursor',
      );
      const next = await other.sendMessage(new Message('b', 'after', ['team']));
      assertEqual(next.id, 3, 'the id continues');
    });

    test('two writers on one room never collide, skip or reorder ids', async (ctx) => {
      const one = await ctx.bus(new BroadcastRoutingPolicy());
      await connect(one, 'a', 'b');
      const two = await ctx.reopenBus(one, new BroadcastRoutingPolicy());
      await Promise.all([
        ...Array.from({ length: 20 }, (_, i) => one.sendMessage(new Message('a', `one-${i}`))),
        ...Array.from({ length: 20 }, (_, i) => two.sendMessage(new Message('b', `two-${i}`))),
      ]);
      const history = await one.history(0, { limit: 100 });
      assertEqual(
        history.map((m) => m.id),
        Array.from({ length: 40 }, (_, i) => i + 1),
        'ids seen by writer one',
      );
      const order = (prefix: string) => history.filter((m) => String(m.content).startsWith(prefix)).map((m) => m.content);
      assertEqual(
        order('one-'),
        Array.from({ length: 20 }, (_, i) => `one-${i}`),
        "writer one's sequential sends keep their order",
      );
    });

    test('subscribe replays, then delivers live, with no gap and no duplicate at the seam', async (ctx) => {
      const bus = await ctx.bus(new BroadcastRoutingPolicy());
      await connect(bus, 'a', 'b');
      for (let i = 1; i <= 25; i++) await bus.sendMessage(new Message('a', i));
      const seen: number[] = [];
      const stop = bus.subscribe('b', (m) => void seen.push(m.id), { after: 10 });
      // Sends racing with the replay.
      await Promise.all(Array.from({ length: 15 }, (_, i) => bus.sendMessage(new Message('a', 100 + i))));
      await waitFor(() => seen.length >= 30, '30 deliveries');
      stop();
      await bus.sendMessage(new Message('a', 'after stop'));
      await new Promise((resolve) => setTimeout(resolve, 30));
      assertEqual(
        seen,
        Array.from({ length: 30 }, (_, i) => i + 11),
        'delivered ids',
      );
    });

    test('a subscriber on another bus over the same storage sees messages live', async (ctx) => {
      const one = await ctx.bus(new BroadcastRoutingPolicy());
      await connect(one, 'a', 'b');
      const two = await ctx.reopenBus(one, new BroadcastRoutingPolicy());
      const seen: unknown[] = [];
      two.subscribe('b', (m) => void seen.push(m.content), { after: 0 });
      await one.sendMessage(new Message('a', 'across writers'));
      await waitFor(() => seen.length === 1, 'a live message from the other writer', 3000);
      assertEqual(seen, ['across writers'], 'seen by the other bus');
    });

    test('a throwing subscriber does not break the bus and emits an error event', async (ctx) => {
      const bus = await ctx.bus(new BroadcastRoutingPolicy());
      await connect(bus, 'a', 'b');
      const errors: Error[] = [];
      bus.on('error', (e) => void errors.push(e));
      const seen: number[] = [];
      bus.subscribe(
        'b',
        (m) => {
          seen.push(m.id);
          if (m.id === 1) throw new Error('handler bug');
        },
        { after: 0 },
      );
      await bus.sendMessage(new Message('a', 1));
      await bus.sendMessage(new Message('a', 2));
      await waitFor(() => seen.length === 2, 'both deliveries');
      assert(
        errors.some((e) => e.message === 'handler bug'),
        'an error event carries the handler error',
      );
    });

    test('retention keeps the newest maxMessages and reports CURSOR_EXPIRED with the oldest id', async (ctx) => {
      const bus = await ctx.bus(new BroadcastRoutingPolicy(), {}, { maxMessages: 5 });
      await connect(bus, 'a', 'b');
      for (let i = 1; i <= 12; i++) await bus.sendMessage(new Message('a', i, undefined, { idempotencyKey: `k${i}` }));
      assertEqual(
        (await bus.history(0, { limit: 100 })).map((m) => m.id),
        [8, 9, 10, 11, 12],
        'retained ids',
      );
      const error = await assertRejects(bus.fetchMessages('b', 0), 'CURSOR_EXPIRED', 'fetching from trimmed history');
      assertEqual(error.details.oldestId, 8, 'oldestId carried by the error');
      await assertRejects(bus.fetchMessages('b'), 'CURSOR_EXPIRED', 'fetching from a cursor in trimmed history');
      assertEqual(
        (await bus.fetchMessages('b', 7)).map((m) => m.id),
        [8, 9, 10, 11, 12],
        'fetch from the oldest id',
      );
      const room = await bus.storage.getRoom(bus.room);
      assertEqual({ lastId: room.lastId, oldestId: room.oldestId }, { lastId: 12, oldestId: 8 }, 'room ids');
      await bus.connectAgent('late');
      assertEqual(await bus.fetchMessages('late'), [], 'an agent that joined after the trim is not expired');
      const next = await bus.sendMessage(new Message('a', 13));
      assertEqual(next.id, 13, 'ids continue after trimming');
    });

    test('a closed backend rejects with CLOSED', async (ctx) => {
      const bus = await ctx.bus(new BroadcastRoutingPolicy());
      await connect(bus, 'a');
      await bus.storage.close();
      await bus.storage.close(); // close is idempotent
      await assertRejects(bus.storage.getRoom(bus.room), 'CLOSED', 'getRoom after close');
      await assertRejects(bus.sendMessage(new Message('a', 'x')), 'CLOSED', 'send after close');
      await bus.close();
      await assertRejects(bus.fetchMessages('a'), 'CLOSED', 'fetch on a closed bus');
    });

    test('content with odd keys and lone surrogates round-trips exactly, as JSON.parse gives it back', async (ctx) => {
      const bus = await ctx.bus(new BroadcastRoutingPolicy());
      await connect(bus, 'a', 'b');
      await checkOddContentRoundTrip(bus, await ctx.reopenBus(bus, new BroadcastRoutingPolicy()));
    });

    conversationCases(test);
    streamCases(test);
  });
}

// --- internal helpers ---

async function connect(bus: MessageBus, ...agents: string[]): Promise<void> {
  for (const agent of agents) await bus.connectAgent(agent);
}

/** Per-test state: a fresh room, and every bus and backend to close at the end. */
class Ctx {
  readonly room = `conformance-${Date.now().toString(36)}-${++roomCounter}`;
  readonly #options: StorageSuiteOptions;
  readonly #buses: MessageBus[] = [];

  constructor(options: StorageSuiteOptions) {
    this.#options = options;
  }

  async bus(
    policy: RoutingPolicy,
    busOptions: Pick<MessageBusOptions, 'now' | 'streamIdleMs'> = {},
    storage: { maxMessages?: number } = {},
  ): Promise<MessageBus> {
    const backend = await this.#options.create(storage);
    const bus = new MessageBus(backend, policy, { room: this.room, logLevel: 'silent', closeStorage: false, ...busOptions });
    this.#buses.push(bus);
    return bus;
  }

  async reopenBus(bus: MessageBus, policy: RoutingPolicy): Promise<MessageBus> {
    const backend = await this.#options.reopen(bus.storage);
    const other = new MessageBus(backend, policy, { room: this.room, logLevel: 'silent', closeStorage: false });
    this.#buses.push(other);
    return other;
  }

  async dispose(): Promise<void> {
    const backends = new Set(this.#buses.map((b) => b.storage));
    for (const bus of this.#buses) await bus.close();
    for (const backend of backends) await backend.close().catch(() => {});
    await this.#options.cleanup?.();
  }
}
