import { describe, expect, it } from 'vitest';
import { InMemoryStorageBackend } from '../src/backends/memory/index.js';
import { Message, MessageBus, MessageBusError, type RoutingPolicy, type StorageBackend } from '../src/index.js';
import { BroadcastRoutingPolicy, IndividualRoutingPolicy, SubgroupRoutingPolicy } from '../src/routing-policies/index.js';

/** A room with members a (online), b (online, group g), off (offline), and one stored message. */
async function room(
  policy: RoutingPolicy = new IndividualRoutingPolicy(),
  options: { maxContentBytes?: number; storage?: StorageBackend } = {},
) {
  const storage = options.storage ?? new InMemoryStorageBackend();
  const bus = new MessageBus(storage, policy, { room: 'errors', logLevel: 'silent', maxContentBytes: options.maxContentBytes });
  await bus.connectAgent('a');
  await bus.connectAgent('b', { groups: ['g'] });
  await bus.connectAgent('off');
  await bus.disconnectAgent('off');
  const first = await bus.sendMessage(
    new Message(
      'a',
      'first',
      policy instanceof IndividualRoutingPolicy ? ['b'] : policy instanceof SubgroupRoutingPolicy ? ['g'] : undefined,
    ),
  );
  expect(first.id).toBe(1);
  return bus;
}

/** Expects `promise` to reject with `code`, then checks nothing was stored and the next send gets the next id. */
async function rejectsAndStoresNothing(bus: MessageBus, call: () => Promise<unknown>, code: string) {
  const before = await bus.history(0, { limit: 1000 });
  const error = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MessageBusError);
  expect((error as MessageBusError).code).toBe(code);
  expect((error as MessageBusError).message.length).toBeGreaterThan(10);
  const after = await bus.history(0, { limit: 1000 });
  expect(after).toEqual(before);
  const sent = await bus.sendMessage(
    new Message('a', 'next', bus.policy.name === 'individual' ? ['b'] : bus.policy.name === 'subgroup' ? ['g'] : undefined),
  );
  expect(sent.id).toBe(before.length + 1);
  return error as MessageBusError;
}

describe('every error code is typed and stores nothing', () => {
  it('INVALID_MESSAGE: bad sender, recipients shape, content that is not JSON, missing content, bad idempotency key', async () => {
    const cases: Array<() => Message> = [
      () => new Message('', 'x', ['b']),
      () => new Message('a b', 'x', ['b']),
      () => new Message('a', 'x', 'b' as unknown as string[]),
      () => new Message('a', 'x', ['b', 42 as unknown as string]),
      () => new Message('a', undefined as unknown as string, ['b']),
      () => new Message('a', { f: () => 1 } as never, ['b']),
      () => new Message('a', { n: Number.NaN }, ['b']),
      () => new Message('a', { when: new Date() } as never, ['b']),
      () => new Message('a', 10n as never, ['b']),
      () => new Message('a', 'x', ['b'], { idempotencyKey: '' }),
    ];
    for (const make of cases) {
      const bus = await room();
      await rejectsAndStoresNothing(bus, () => bus.sendMessage(make()), 'INVALID_MESSAGE');
    }
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const bus = await room();
    const error = await rejectsAndStoresNothing(bus, () => bus.sendMessage(new Message('a', cyclic as never, ['b'])), 'INVALID_MESSAGE');
    expect(error.message).toContain('circular');
  });

  it('INVALID_MESSAGE, not STORAGE_FAILURE: content or a message whose getter or Proxy trap throws', async () => {
    const boom = () => {
      throw new Error('trap sprung');
    };
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const contents: unknown[] = [
      Object.defineProperty({}, 'x', { enumerable: true, get: boom }),
      [Object.defineProperty({}, 'deep', { enumerable: true, get: boom })],
      new Proxy({}, { ownKeys: boom }),
      new Proxy({ a: 1 }, { get: boom }),
      new Proxy({}, { getPrototypeOf: boom }),
      new Proxy([1, 2], { get: boom }),
      revoked.proxy,
    ];
    for (const content of contents) {
      const bus = await room();
      const error = await rejectsAndStoresNothing(bus, () => bus.sendMessage(new Message('a', content as never, ['b'])), 'INVALID_MESSAGE');
      expect(error.message).toContain('content');
    }
    const messages: unknown[] = [
      {
        sender: 'a',
        recipients: ['b'],
        get content() {
          return boom();
        },
      },
      {
        sender: 'a',
        content: 'x',
        get recipients() {
          return boom();
        },
      },
      { sender: 'a', content: 'x', recipients: new Proxy(['b'], { get: boom }) },
      { sender: 'a', content: 'x', recipients: ['b'], options: new Proxy({}, { get: boom }) },
      new Proxy(new Message('a', 'x', ['b']), { get: boom }),
    ];
    for (const message of messages) {
      const bus = await room();
      await rejectsAndStoresNothing(bus, () => bus.sendMessage(message as Message), 'INVALID_MESSAGE');
    }
  });

  it('INVALID_MESSAGE: an idempotency key with a lone surrogate (UTF-8, Redis and SQLite text cannot keep it)', async () => {
    const bus = await room();
    await rejectsAndStoresNothing(
      bus,
      () => bus.sendMessage(new Message('a', 'x', ['b'], { idempotencyKey: 'k\ud800' })),
      'INVALID_MESSAGE',
    );
    expect((await bus.sendMessage(new Message('a', 'x', ['b'], { idempotencyKey: 'k\ud83d\ude00' }))).idempotencyKey).toBe('k\ud83d\ude00');
  });

  it('INVALID_MESSAGE: broadcast with recipients, subgroup without groups', async () => {
    const broadcast = await room(new BroadcastRoutingPolicy());
    await rejectsAndStoresNothing(broadcast, () => broadcast.sendMessage(new Message('a', 'x', ['b'])), 'INVALID_MESSAGE');
    const subgroup = await room(new SubgroupRoutingPolicy());
    await rejectsAndStoresNothing(subgroup, () => subgroup.sendMessage(new Message('a', 'x')), 'INVALID_MESSAGE');
  });

  it('CONTENT_TOO_LARGE counts UTF-8 bytes of the JSON and carries the limit', async () => {
    const bus = await room(undefined, { maxContentBytes: 100 });
    // 40 three-byte characters: 42 UTF-16 units of JSON, but 122 bytes.
    const error = await rejectsAndStoresNothing(bus, () => bus.sendMessage(new Message('a', '€'.repeat(40), ['b'])), 'CONTENT_TOO_LARGE');
    expect(error.details).toMatchObject({ limit: 100, size: 122 });
    expect((await bus.sendMessage(new Message('a', '€'.repeat(30), ['b']))).id).toBe(3);
  });

  it('CONTENT_TOO_LARGE at the 64 KiB default', async () => {
    const bus = await room();
    await rejectsAndStoresNothing(bus, () => bus.sendMessage(new Message('a', 'x'.repeat(64 * 1024), ['b'])), 'CONTENT_TOO_LARGE');
  });

  it('UNKNOWN_AGENT for a sender or fetcher that is not a member', async () => {
    const bus = await room();
    await rejectsAndStoresNothing(bus, () => bus.sendMessage(new Message('ghost', 'x', ['b'])), 'UNKNOWN_AGENT');
    await rejectsAndStoresNothing(bus, () => bus.fetchMessages('ghost'), 'UNKNOWN_AGENT');
    await rejectsAndStoresNothing(bus, () => bus.ackMessages('ghost', 1), 'UNKNOWN_AGENT');
    await rejectsAndStoresNothing(bus, () => bus.disconnectAgent('ghost'), 'UNKNOWN_AGENT');
    await rejectsAndStoresNothing(bus, () => bus.removeAgent('ghost'), 'UNKNOWN_AGENT');
    await rejectsAndStoresNothing(bus, () => bus.joinGroup('ghost', 'g'), 'UNKNOWN_AGENT');
    expect((await bus.agents()).map((m) => m.id)).toEqual(['a', 'b', 'off']);
  });

  it('AGENT_OFFLINE for a disconnected sender', async () => {
    const bus = await room();
    const error = await rejectsAndStoresNothing(bus, () => bus.sendMessage(new Message('off', 'x', ['b'])), 'AGENT_OFFLINE');
    expect(error.message).toContain('connectAgent("off")');
  });

  it('UNKNOWN_RECIPIENT for a recipient that is not a member', async () => {
    const bus = await room();
    const error = await rejectsAndStoresNothing(bus, () => bus.sendMessage(new Message('a', 'x', ['b', 'nobody'])), 'UNKNOWN_RECIPIENT');
    expect(error.details).toEqual({ recipient: 'nobody' });
  });

  it('UNKNOWN_GROUP for a group nobody is in', async () => {
    const bus = await room(new SubgroupRoutingPolicy());
    await rejectsAndStoresNothing(bus, () => bus.sendMessage(new Message('a', 'x', ['g', 'nope'])), 'UNKNOWN_GROUP');
  });

  it('ROUTING_FAILED when a custom policy throws or returns garbage', async () => {
    const outcomes: unknown[] = [new Error('boom'), 'not-a-list', ['ghost'], [42], { audience: 'everyone' }, null];
    for (const outcome of outcomes) {
      let first = true;
      const policy: RoutingPolicy = {
        name: 'flaky',
        async route() {
          // The first (setup) send routes normally; later ones misbehave.
          if (first) {
            first = false;
            return ['b'];
          }
          if (outcome instanceof Error) throw outcome;
          return outcome as string[];
        },
      };
      const bus = await room(policy);
      const error = await bus.sendMessage(new Message('a', 'x')).catch((e: MessageBusError) => e);
      expect(error).toBeInstanceOf(MessageBusError);
      expect((error as MessageBusError).code).toBe('ROUTING_FAILED');
      if (outcome instanceof Error) expect((error as MessageBusError).cause).toBe(outcome);
      expect((await bus.history()).map((m) => m.id)).toEqual([1]);
    }
  });

  it('INVALID_ARGUMENT for bad ids, limits and cursors', async () => {
    const bus = await room();
    await rejectsAndStoresNothing(bus, () => bus.connectAgent('has space'), 'INVALID_ARGUMENT');
    await rejectsAndStoresNothing(bus, () => bus.connectAgent('x'.repeat(129)), 'INVALID_ARGUMENT');
    await rejectsAndStoresNothing(bus, () => bus.connectAgent('ok', { groups: ['bad/group'] }), 'INVALID_ARGUMENT');
    await rejectsAndStoresNothing(bus, () => bus.fetchMessages('b', -1), 'INVALID_ARGUMENT');
    await rejectsAndStoresNothing(bus, () => bus.fetchMessages('b', 1.5), 'INVALID_ARGUMENT');
    await rejectsAndStoresNothing(bus, () => bus.fetchMessages('b', 0, { limit: 0 }), 'INVALID_ARGUMENT');
    await rejectsAndStoresNothing(bus, () => bus.fetchMessages('b', 0, { limit: 1001 }), 'INVALID_ARGUMENT');
    await rejectsAndStoresNothing(bus, () => bus.ackMessages('b', 99), 'INVALID_ARGUMENT');
    expect(() => new MessageBus(new InMemoryStorageBackend(), new BroadcastRoutingPolicy(), { room: '../etc' })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => bus.subscribe('b', () => {}, { after: -3 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect((await bus.agents()).map((m) => m.id)).toEqual(['a', 'b', 'off']);
  });

  it('INVALID_ARGUMENT, not a plain Error: groups whose iterator, getter or Proxy trap throws', async () => {
    const boom = () => {
      throw new Error('trap sprung');
    };
    const throwingIterator = Object.assign(['g'], { [Symbol.iterator]: boom });
    const groupLists: unknown[] = [throwingIterator, new Proxy(['g'], { get: boom }), Object.defineProperty(['g'], 0, { get: boom })];
    const optionObjects: unknown[] = [
      ...groupLists.map((groups) => ({ groups })),
      {
        get groups() {
          return boom();
        },
      },
      null,
    ];
    for (const options of optionObjects) {
      const bus = await room();
      const membership = async () => (await bus.agents()).map((m) => [m.id, m.online, m.groups]);
      const before = await membership();
      const error = await rejectsAndStoresNothing(bus, () => bus.connectAgent('b', options as never), 'INVALID_ARGUMENT');
      expect(error.message).toMatch(/groups|options/);
      await rejectsAndStoresNothing(bus, () => bus.connectAgent('newcomer', options as never), 'INVALID_ARGUMENT');
      expect(await membership()).toEqual(before);
    }
  });

  it('CURSOR_EXPIRED carries the oldest id still available', async () => {
    const storage = new InMemoryStorageBackend({ maxMessages: 3 });
    const bus = new MessageBus(storage, new BroadcastRoutingPolicy(), { room: 'expiry', logLevel: 'silent' });
    await bus.connectAgent('a');
    await bus.connectAgent('b');
    for (let i = 0; i < 6; i++) await bus.sendMessage(new Message('a', i));
    const error = await bus.fetchMessages('b', 1).catch((e: MessageBusError) => e);
    expect(error).toMatchObject({ code: 'CURSOR_EXPIRED', details: { oldestId: 4 } });
    expect((await bus.history(0)).map((m) => m.id)).toEqual([4, 5, 6]);
  });

  it('STORAGE_FAILURE wraps a failing backend, keeps the cause, and the id is not consumed', async () => {
    // Typed as the interface, whose append may be asynchronous.
    const storage: StorageBackend = new InMemoryStorageBackend();
    const bus = await room(undefined, { storage });
    const original = storage.append.bind(storage);
    const cause = new Error('disk on fire');
    storage.append = async () => {
      throw cause;
    };
    const error = (await bus.sendMessage(new Message('a', 'x', ['b'])).catch((e: MessageBusError) => e)) as MessageBusError;
    expect(error).toMatchObject({ code: 'STORAGE_FAILURE', cause });
    expect(error.message).toContain('disk on fire');
    storage.append = original;
    expect((await bus.sendMessage(new Message('a', 'y', ['b']))).id).toBe(2);
  });

  it('CLOSED after close()', async () => {
    const bus = await room();
    await bus.close();
    for (const call of [
      () => bus.sendMessage(new Message('a', 'x', ['b'])),
      () => bus.fetchMessages('b'),
      () => bus.connectAgent('c'),
      () => bus.ackMessages('b', 1),
      () => bus.agents(),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: 'CLOSED' });
    }
    expect(() => bus.subscribe('b', () => {})).toThrow(expect.objectContaining({ code: 'CLOSED' }));
  });

  it('MessageBusError serialises to the API error shape', () => {
    const error = new MessageBusError('CURSOR_EXPIRED', 'gone', { details: { oldestId: 7 } });
    expect(JSON.parse(JSON.stringify(error))).toEqual({ error: { code: 'CURSOR_EXPIRED', message: 'gone', oldestId: 7 } });
    expect(MessageBusError.is(error, 'CURSOR_EXPIRED')).toBe(true);
    expect(MessageBusError.is(new Error('x'))).toBe(false);
  });
});
