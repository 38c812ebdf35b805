// Conversations on a MessageBus: the shape checks of inReplyTo and metadata, metadata seen by routing policies,
// and request/reply (timeouts, aborts, presence). Each rejection is checked to store nothing.
import { describe, expect, it } from 'vitest';
import { InMemoryStorageBackend } from '../src/backends/memory/index.js';
import { Message, MessageBus, MessageBusError, type RoutingPolicy } from '../src/index.js';
import { AddressedRoutingPolicy } from '../src/routing-policies/index.js';

async function room(options: { maxMetadataBytes?: number; policy?: RoutingPolicy } = {}) {
  const bus = new MessageBus(new InMemoryStorageBackend(), options.policy ?? new AddressedRoutingPolicy(), {
    room: 'talk',
    logLevel: 'silent',
    ...(options.maxMetadataBytes === undefined ? {} : { maxMetadataBytes: options.maxMetadataBytes }),
  });
  await bus.connectAgent('planner');
  await bus.connectAgent('researcher', { groups: ['research'] });
  await bus.connectAgent('critic');
  await bus.sendMessage(new Message('planner', 'kick-off'));
  return bus;
}

/** `call` must reject with `code`, and the room's history and next id must be as before. */
async function refused(bus: MessageBus, call: () => Promise<unknown>, code: string): Promise<MessageBusError> {
  const before = await bus.history();
  const error = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(MessageBusError.is(error, code as never), `expected ${code}, got ${String(error)}`).toBe(true);
  expect(await bus.history()).toEqual(before);
  const next = await bus.sendMessage(new Message('planner', 'next'));
  expect(next.id).toBe(before.length + 1);
  return error as MessageBusError;
}

describe('inReplyTo: shape', () => {
  it('is INVALID_ARGUMENT when zero, negative, fractional, not a number or unsafe', async () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '1', null, 2 ** 53]) {
      const bus = await room();
      const error = await refused(
        bus,
        () => bus.sendMessage(new Message('critic', 'agreed', undefined, { inReplyTo: bad as number })),
        'INVALID_ARGUMENT',
      );
      expect(error.message).toContain('inReplyTo');
    }
  });
});

describe('metadata', () => {
  it('is INVALID_MESSAGE unless a plain JSON object; undefined means absent', async () => {
    for (const bad of [null, [], ['kind'], 'tool_call', 7, true, { f: () => 1 }, { when: new Date() }, { n: Number.NaN }]) {
      const bus = await room();
      const error = await refused(
        bus,
        () => bus.sendMessage(new Message('critic', 'x', undefined, { metadata: bad as never })),
        'INVALID_MESSAGE',
      );
      expect(error.message).toContain('metadata');
    }
    const bus = await room();
    const sent = await bus.sendMessage(new Message('critic', 'x', undefined, { metadata: undefined }));
    expect('metadata' in sent).toBe(false);
  });

  it('counts UTF-8 bytes of its JSON: 4,096 pass, 4,097 are CONTENT_TOO_LARGE with { limit, size }', async () => {
    // {"k":"…"} is 8 bytes around the value; "é" is 2 bytes in UTF-8.
    const exact = { k: 'é'.repeat(2044) };
    const over = { k: `${'é'.repeat(2044)}x` };
    const bus = await room();
    await expect(bus.sendMessage(new Message('critic', 'fits', undefined, { metadata: exact }))).resolves.toMatchObject({
      sender: 'critic',
    });
    const error = await refused(
      bus,
      () => bus.sendMessage(new Message('critic', 'too big', undefined, { metadata: over })),
      'CONTENT_TOO_LARGE',
    );
    expect(error.details).toEqual({ limit: 4096, size: 4097 });
  });

  it('follows maxMetadataBytes, which must be a positive integer', async () => {
    const bus = await room({ maxMetadataBytes: 16 });
    const error = await refused(
      bus,
      () => bus.sendMessage(new Message('critic', 'x', undefined, { metadata: { kind: 'tool_call' } })),
      'CONTENT_TOO_LARGE',
    );
    expect(error.details).toEqual({ limit: 16, size: 20 });
    for (const bad of [0, -1, 1.5]) {
      expect(() => new MessageBus(new InMemoryStorageBackend(), new AddressedRoutingPolicy(), { maxMetadataBytes: bad })).toThrow(
        MessageBusError,
      );
    }
  });

  it('is seen by routing policies, frozen, so a policy can route by kind', async () => {
    const seen: unknown[] = [];
    const byKind: RoutingPolicy = {
      name: 'by-kind',
      route(message, view) {
        seen.push(message.metadata);
        if (message.metadata) expect(Object.isFrozen(message.metadata)).toBe(true);
        return message.metadata?.kind === 'tool_call'
          ? ['researcher']
          : view.members.map((m) => m.id).filter((id) => id !== message.sender);
      },
    };
    const bus = await room({ policy: byKind });
    const call = await bus.sendMessage(new Message('planner', 'search', undefined, { metadata: { kind: 'tool_call', tool: 'search' } }));
    const remark = await bus.sendMessage(new Message('planner', 'nice'));
    expect(call.recipients).toEqual(['researcher']);
    expect(remark.recipients).toEqual(['critic', 'researcher']);
    expect(seen.slice(-2)).toEqual([{ kind: 'tool_call', tool: 'search' }, undefined]);
  });
});

describe('request: without a reply', () => {
  it('an already aborted signal rejects with ABORTED and stores nothing', async () => {
    const bus = await room();
    const controller = new AbortController();
    controller.abort(new Error('user left'));
    const error = await refused(
      bus,
      () => bus.request(new Message('planner', 'q?', ['researcher']), { signal: controller.signal }),
      'ABORTED',
    );
    expect(error.details.requestId).toBeUndefined();
    expect(error.cause).toBe(controller.signal.reason);
  });

  it('TIMEOUT carries the stored request id; the request stays stored', async () => {
    const bus = await room();
    const error = await bus.request(new Message('planner', 'anyone?', ['researcher']), { timeoutMs: 30 }).catch((e: unknown) => e);
    expect(MessageBusError.is(error, 'TIMEOUT')).toBe(true);
    const requestId = (error as MessageBusError).details.requestId as number;
    const [stored] = await bus.fetchMessages('researcher', requestId - 1);
    expect(stored).toMatchObject({ id: requestId, sender: 'planner', content: 'anyone?' });
  });

  it('ABORTED while waiting carries the request id and the reason; the request stays stored', async () => {
    const bus = await room();
    const controller = new AbortController();
    const pending = bus.request(new Message('planner', 'well?', ['researcher']), { signal: controller.signal }).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort('changed my mind');
    const error = (await pending) as MessageBusError;
    expect(error.code).toBe('ABORTED');
    expect(error.cause).toBe('changed my mind');
    expect((await bus.history()).map((m) => m.id)).toContain(error.details.requestId);
  });

  it('a send the bus refuses rejects with that error; a bad timeoutMs is INVALID_ARGUMENT', async () => {
    const bus = await room();
    await refused(bus, () => bus.request(new Message('planner', 'q', ['ghost'])), 'UNKNOWN_RECIPIENT');
    for (const timeoutMs of [0, -5, 1.5, Number.POSITIVE_INFINITY, 2 ** 31]) {
      await refused(bus, () => bus.request(new Message('planner', 'q', ['researcher']), { timeoutMs }), 'INVALID_ARGUMENT');
    }
  });

  it('leaves presence as it was, online or not', async () => {
    const bus = await room();
    const online = async () => Object.fromEntries((await bus.agents()).map((a) => [a.id, a.online]));
    const before = await online();
    await bus.request(new Message('planner', 'q', ['researcher']), { timeoutMs: 20 }).catch(() => undefined);
    expect(await online()).toEqual(before);
  });

  it('rejects with CLOSED when the bus closes while it waits, and with UNKNOWN_AGENT when the requester is removed', async () => {
    const bus = await room();
    const closing = bus.request(new Message('planner', 'q', ['researcher'])).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await bus.close();
    expect(MessageBusError.is(await closing, 'CLOSED')).toBe(true);

    const other = await room();
    const leaving = other.request(new Message('critic', 'q', ['researcher'])).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await other.removeAgent('critic');
    expect(MessageBusError.is(await leaving, 'UNKNOWN_AGENT')).toBe(true);
  });
});
