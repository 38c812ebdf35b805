// Streams on a MessageBus over memory: the exact rules of the issue (error codes, sizes, end retries,
// repeated keys, idle, close), late subscribers, and repair of a lost signal. Cross-bus delivery on every
// backend is in the conformance suite (sdk/src/testing/stream-suite.ts).
import { describe, expect, it } from 'vitest';
import { InMemoryStorageBackend } from '../src/backends/memory/index.js';
import {
  Message,
  MessageBus,
  MessageBusError,
  type MessageBusOptions,
  type StorageBackend,
  type StoredMessage,
  type StreamEvent,
  type StreamSignal,
} from '../src/index.js';
import { AddressedRoutingPolicy, IndividualRoutingPolicy } from '../src/routing-policies/index.js';

async function room(options: MessageBusOptions = {}, storage: StorageBackend = new InMemoryStorageBackend()) {
  const bus = new MessageBus(storage, new AddressedRoutingPolicy(), { room: 'talk', logLevel: 'silent', closeStorage: false, ...options });
  await bus.connectAgent('writer');
  await bus.connectAgent('critic');
  await bus.connectAgent('planner');
  return bus;
}

function watch(bus: MessageBus, agent: string) {
  const seen = { events: [] as StreamEvent[], messages: [] as StoredMessage[], errors: [] as Error[] };
  const stop = bus.subscribe(agent, (m) => void seen.messages.push(m), {
    onStream: (e) => void seen.events.push(e),
    onError: (e) => void seen.errors.push(e),
  });
  return { ...seen, stop };
}

async function rejection(promise: Promise<unknown>): Promise<MessageBusError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!MessageBusError.is(error)) throw new Error(`expected a MessageBusError, got ${String(error)}`);
  return error;
}

function thrown(call: () => unknown): MessageBusError {
  try {
    call();
  } catch (error) {
    if (MessageBusError.is(error)) return error;
    throw error;
  }
  throw new Error('expected a throw');
}

async function waitUntil(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('bus.stream: starting', () => {
  it('routes at once: the recipients are resolved, the start reaches them, nothing is stored yet', async () => {
    const bus = await room();
    const critic = watch(bus, 'critic');
    const stream = await bus.stream(new Message('writer', 'Hi', undefined, { metadata: { kind: 'answer' } }));
    expect(stream.id).toMatch(/^[0-9a-f]{32}$/);
    expect(stream.recipients).toEqual(['critic', 'planner']);
    expect(critic.events).toEqual([
      { type: 'start', streamId: stream.id, sender: 'writer', recipients: ['critic', 'planner'], metadata: { kind: 'answer' }, text: 'Hi' },
    ]);
    expect(await bus.history()).toEqual([]);
    const other = await bus.stream(new Message('writer', ''));
    expect(other.id).not.toBe(stream.id);
  });

  it('fails as sendMessage would, with nothing started or stored', async () => {
    const bus = await room();
    const critic = watch(bus, 'critic');
    await bus.sendMessage(new Message('planner', 'to the writer only', ['writer']));
    const cases: [Message, string][] = [
      [new Message('writer', '', ['nobody']), 'UNKNOWN_RECIPIENT'],
      [new Message('writer', '', ['#nogroup']), 'UNKNOWN_GROUP'],
      [new Message('stranger', ''), 'UNKNOWN_AGENT'],
      [new Message('writer', { text: 'x' } as never), 'INVALID_MESSAGE'],
      [new Message('writer', 42 as never), 'INVALID_MESSAGE'],
      [new Message('writer', '', undefined, { inReplyTo: 0 }), 'INVALID_ARGUMENT'],
      // Message 1 went to the writer only: the critic has not seen it, and message 9 does not exist.
      [new Message('critic', '', undefined, { inReplyTo: 1 }), 'INVALID_ARGUMENT'],
      [new Message('writer', '', undefined, { inReplyTo: 9 }), 'INVALID_ARGUMENT'],
      [new Message('writer', '', undefined, { metadata: [] as never }), 'INVALID_MESSAGE'],
    ];
    for (const [message, code] of cases) expect((await rejection(bus.stream(message))).code, JSON.stringify(message)).toBe(code);
    const hidden = await rejection(bus.stream(new Message('critic', '', undefined, { inReplyTo: 1 })));
    const missing = await rejection(bus.stream(new Message('critic', '', undefined, { inReplyTo: 9 })));
    expect(hidden.message).toBe(missing.message);
    await bus.disconnectAgent('writer');
    expect((await rejection(bus.stream(new Message('writer', '')))).code).toBe('AGENT_OFFLINE');
    await tick();
    expect(critic.events).toEqual([]);
    expect((await bus.history()).length).toBe(1);
    expect(bus.openStreams()).toEqual([]);
  });

  it('a reply streams when the sender has seen the message', async () => {
    const bus = await room();
    const question = await bus.sendMessage(new Message('critic', 'why?', ['writer']));
    const stream = await bus.stream(new Message('writer', '', ['critic'], { inReplyTo: question.id }));
    stream.write('because');
    const stored = await stream.end();
    expect(stored).toMatchObject({ inReplyTo: question.id, thread: question.id, content: 'because', streamId: stream.id });
  });
});

describe('MessageStream: write, end, abort', () => {
  it('write takes strings only (INVALID_ARGUMENT); after end or abort it is CLOSED', async () => {
    const bus = await room();
    const stream = await bus.stream(new Message('writer', '', ['critic']));
    for (const bad of [1, null, undefined, { text: 'x' }, ['x']])
      expect(thrown(() => stream.write(bad as never)).code).toBe('INVALID_ARGUMENT');
    stream.write('ok');
    await stream.end();
    expect(thrown(() => stream.write('more')).code).toBe('CLOSED');
    expect((await rejection(stream.abort('late'))).code).toBe('CLOSED');
    const aborted = await bus.stream(new Message('writer', '', ['critic']));
    await aborted.abort('model error');
    await aborted.abort('again'); // aborting an aborted stream does nothing
    expect(thrown(() => aborted.write('x')).code).toBe('CLOSED');
    expect((await rejection(aborted.end())).code).toBe('CLOSED');
    expect((await rejection(aborted.end('final'))).code).toBe('CLOSED');
    expect((await rejection((await bus.stream(new Message('writer', ''))).abort(7 as never))).code).toBe('INVALID_ARGUMENT');
  });

  it('deltas carry seq 1, 2, 3; end stores one message with the concatenated text, delivered once to the handler', async () => {
    const bus = await room();
    const critic = watch(bus, 'critic');
    const stream = await bus.stream(new Message('writer', '', ['critic']));
    for (let i = 0; i < 3000; i++) stream.write(`w${i} `);
    const stored = await stream.end();
    expect(stored.content).toBe(Array.from({ length: 3000 }, (_, i) => `w${i} `).join(''));
    expect(stored).toMatchObject({ id: 1, sender: 'writer', recipients: ['critic'], streamId: stream.id });
    expect(await bus.history()).toEqual([stored]);
    const deltas = critic.events.filter((e) => e.type === 'delta');
    expect(deltas.map((e) => e.seq)).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
    expect(critic.events.at(-1)).toEqual({ type: 'end', streamId: stream.id, message: stored });
    await waitUntil(() => critic.messages.length === 1);
    await tick();
    expect(critic.messages).toEqual([stored]);
    expect(await stream.end()).toBe(stored); // a second end() returns the same message
  });

  it('end(finalContent) stores any JSON value; bad final content changes nothing and the stream stays open', async () => {
    const bus = await room({ maxContentBytes: 64 });
    const stream = await bus.stream(new Message('writer', '', ['critic']));
    stream.write('thinking');
    expect((await rejection(stream.end({ bad: Number.NaN } as never))).code).toBe('INVALID_MESSAGE');
    const big = await rejection(stream.end({ text: 'x'.repeat(60) }));
    expect(big.code).toBe('CONTENT_TOO_LARGE');
    expect(big.details).toEqual({ limit: 64, size: 71 }); // {"text":"x…x"}
    stream.write('!');
    const stored = await stream.end({ answer: 42, text: stream.text });
    expect(stored.content).toEqual({ answer: 42, text: 'thinking!' });
  });

  it('write past maxContentBytes (JSON, UTF-8 bytes) throws CONTENT_TOO_LARGE and aborts with that reason', async () => {
    // '""' is 2 bytes; "é" is 2, "\n" is written as 2, "😀" (a surrogate pair split over two writes) is 4.
    const bus = await room({ maxContentBytes: 12 });
    const critic = watch(bus, 'critic');
    const stream = await bus.stream(new Message('writer', 'é', ['critic']));
    stream.write('\n');
    stream.write('\ud83d');
    stream.write('\ude00');
    stream.write('ab'); // 2 + 2 + 2 + 4 + 2 = 12: exactly the limit
    const error = thrown(() => stream.write('c'));
    expect(error.code).toBe('CONTENT_TOO_LARGE');
    expect(error.details).toEqual({ limit: 12, size: 13 });
    expect(critic.events.at(-1)).toEqual({ type: 'abort', streamId: stream.id, reason: 'CONTENT_TOO_LARGE' });
    expect(thrown(() => stream.write('')).code).toBe('CLOSED');
    expect(await bus.history()).toEqual([]);
  });

  it('abort stores nothing and tells every recipient', async () => {
    const bus = await room();
    const critic = watch(bus, 'critic');
    const planner = watch(bus, 'planner');
    const stream = await bus.stream(new Message('writer', ''));
    stream.write('half');
    await stream.abort('model error');
    for (const seen of [critic, planner]) expect(seen.events.at(-1)).toEqual({ type: 'abort', streamId: stream.id, reason: 'model error' });
    expect(await bus.history()).toEqual([]);
    expect(bus.openStreams()).toEqual([]);
  });
});

describe('end() retries', () => {
  /** Memory storage whose next append stores the message and then reports a failure: the outcome is unknown to the caller. */
  function flaky() {
    const storage = new InMemoryStorageBackend();
    const append = storage.append.bind(storage);
    const state = { failNext: 0, appends: 0 };
    storage.append = (room, draft) => {
      state.appends++;
      const result = append(room, draft);
      if (state.failNext > 0) {
        state.failNext--;
        throw new Error('connection reset after the write');
      }
      return result;
    };
    return { storage, state };
  }

  it('after STORAGE_FAILURE the stream stays open and a retried end() stores at most one message', async () => {
    const { storage, state } = flaky();
    const bus = await room({}, storage);
    const critic = watch(bus, 'critic');
    const stream = await bus.stream(new Message('writer', '', ['critic']));
    stream.write('answer');
    state.failNext = 1;
    const failure = await rejection(stream.end());
    expect(failure.code).toBe('STORAGE_FAILURE');
    expect(stream.open).toBe(true);
    expect(critic.events.some((e) => e.type === 'abort')).toBe(false);
    expect(thrown(() => stream.write('more')).code).toBe('CLOSED'); // the text is final once end() was called
    const stored = await stream.end();
    expect(state.appends).toBe(2);
    expect(stored).toMatchObject({ content: 'answer', streamId: stream.id, idempotencyKey: `stream:${stream.id}` });
    expect(await bus.history()).toEqual([stored]);
    expect(critic.events.at(-1)).toEqual({ type: 'end', streamId: stream.id, message: stored });
  });

  it('concurrent end() calls share one append', async () => {
    const { storage, state } = flaky();
    const bus = await room({}, storage);
    const stream = await bus.stream(new Message('writer', 'x', ['critic']));
    const [a, b] = await Promise.all([stream.end(), stream.end()]);
    expect(a).toBe(b);
    expect(state.appends).toBe(1);
  });

  it('a failure other than STORAGE_FAILURE aborts the stream with its code', async () => {
    const bus = await room();
    const critic = watch(bus, 'critic');
    const stream = await bus.stream(new Message('writer', 'x', ['critic']));
    await bus.removeAgent('writer');
    expect((await rejection(stream.end())).code).toBe('UNKNOWN_AGENT');
    expect(stream.open).toBe(false);
    expect(critic.events.at(-1)).toEqual({ type: 'abort', streamId: stream.id, reason: 'UNKNOWN_AGENT' });
    expect(await bus.history()).toEqual([]);
  });

  it("a repeated idempotency key streams, and end() returns the original message (the sender's own key is kept)", async () => {
    const bus = await room();
    const first = await bus.stream(new Message('writer', 'one', ['critic'], { idempotencyKey: 'k' }));
    const original = await first.end();
    expect(original.idempotencyKey).toBe('k');
    const critic = watch(bus, 'critic');
    const again = await bus.stream(new Message('writer', 'two', ['critic'], { idempotencyKey: 'k' }));
    again.write('!');
    expect(await again.end()).toEqual(original);
    expect(critic.events.map((e) => e.type)).toEqual(['start', 'delta', 'end']);
    expect(await bus.history()).toEqual([original]);
  });
});

describe('late subscribers, idle and close', () => {
  it('a subscriber that comes mid-stream gets a start with all text so far, then the following deltas', async () => {
    const bus = await room();
    const stream = await bus.stream(new Message('writer', '', ['critic']));
    stream.write('abc');
    const late = watch(bus, 'critic');
    stream.write('d'); // before the late subscriber's replay: it is in the start's text, not a delta
    await tick();
    stream.write('e');
    expect(late.events).toEqual([
      { type: 'start', streamId: stream.id, sender: 'writer', recipients: ['critic'], text: 'abcd' },
      { type: 'delta', streamId: stream.id, seq: 3, text: 'e' },
    ]);
    expect(bus.openStreams('critic')).toEqual([
      { type: 'start', streamId: stream.id, sender: 'writer', recipients: ['critic'], text: 'abcde', seq: 3 },
    ]);
    expect(bus.openStreams('planner')).toEqual([]);
    const planner = watch(bus, 'planner');
    await tick();
    expect(planner.events).toEqual([]);
  });

  it('a stream nothing is written to for streamIdleMs is aborted with IDLE on the sender and the receiving side', async () => {
    const storage = new InMemoryStorageBackend();
    const sender = await room({ streamIdleMs: 60_000 }, storage);
    const receiver = new MessageBus(storage, new AddressedRoutingPolicy(), {
      room: 'talk',
      logLevel: 'silent',
      closeStorage: false,
      streamIdleMs: 80,
    });
    const far = watch(receiver, 'critic');
    const stream = await sender.stream(new Message('writer', '', ['critic']));
    stream.write('x');
    // The receiving bus gives up on its own, while the sender (60 s) still holds the stream open.
    await waitUntil(() => far.events.at(-1)?.type === 'abort');
    expect(far.events.at(-1)).toEqual({ type: 'abort', streamId: stream.id, reason: 'IDLE' });
    expect(stream.open).toBe(true);
    const quick = await room({ streamIdleMs: 50 }, new InMemoryStorageBackend());
    const near = watch(quick, 'critic');
    const idle = await quick.stream(new Message('writer', '', ['critic']));
    await waitUntil(() => !idle.open);
    expect(near.events.at(-1)).toEqual({ type: 'abort', streamId: idle.id, reason: 'IDLE' });
    expect(thrown(() => idle.write('late')).code).toBe('CLOSED');
    expect(await quick.history()).toEqual([]);
    expect(() => new MessageBus(storage, new AddressedRoutingPolicy(), { streamIdleMs: 0 })).toThrow(/streamIdleMs/);
  });

  it("closing the sender's bus aborts its streams with CLOSED", async () => {
    const storage = new InMemoryStorageBackend();
    const sender = await room({}, storage);
    const receiver = new MessageBus(storage, new AddressedRoutingPolicy(), { room: 'talk', logLevel: 'silent', closeStorage: false });
    const critic = watch(receiver, 'critic');
    const stream = await sender.stream(new Message('writer', 'x', ['critic']));
    await sender.close();
    expect(critic.events.at(-1)).toEqual({ type: 'abort', streamId: stream.id, reason: 'CLOSED' });
    expect(stream.open).toBe(false);
  });

  it('a throwing onStream handler is reported and delivery goes on', async () => {
    const bus = await room();
    const errors: Error[] = [];
    bus.on('error', (e) => void errors.push(e));
    const seen: string[] = [];
    bus.subscribe('critic', () => {}, {
      onStream: (e) => {
        seen.push(e.type);
        if (e.type === 'delta') throw new Error('render failed');
      },
    });
    const stream = await bus.stream(new Message('writer', '', ['critic']));
    stream.write('a');
    stream.write('b');
    await stream.end();
    expect(seen).toEqual(['start', 'delta', 'delta', 'end']);
    expect(errors.map((e) => e.message)).toEqual(['render failed', 'render failed']);
    expect(() => bus.subscribe('critic', () => {}, { onStream: 'x' as never })).toThrow(/onStream/);
  });

  it('writes made inside an onStream handler are delivered in order to every watcher', async () => {
    const bus = await room();
    const stream = await bus.stream(new Message('writer', '', ['critic', 'planner']));
    bus.subscribe('critic', () => {}, {
      onStream: (e) => {
        if (e.type === 'delta' && e.seq === 1) stream.write('2');
      },
    });
    const planner = watch(bus, 'planner');
    await tick();
    stream.write('1');
    expect(planner.events.filter((e) => e.type === 'delta').map((e) => e.type === 'delta' && e.seq)).toEqual([1, 2]);
  });

  it("the bus's stream event reports every stream of the room with its recipients", async () => {
    const bus = await room();
    const events: [string, readonly string[], number][] = [];
    bus.on('stream', (event, info) => void events.push([event.type, info.recipients, info.seq]));
    const stream = await bus.stream(new Message('writer', '', ['planner']));
    stream.write('x');
    await stream.abort('stop');
    expect(events).toEqual([
      ['start', ['planner'], 0],
      ['delta', ['planner'], 1],
      ['abort', ['planner'], 1],
    ]);
  });
});

describe('repair of lost signals', () => {
  /** Memory storage whose stream channel drops the signals `drop` picks, as a pub/sub link may during a reconnect. */
  function lossy(drop: (signal: StreamSignal) => boolean) {
    const storage = new InMemoryStorageBackend();
    const open = storage.openStreamChannel.bind(storage);
    storage.openStreamChannel = (room, listener) => open(room, (signal) => (drop(signal) ? undefined : listener(signal)));
    return storage;
  }

  it('a skipped seq is repaired by a sync: the receiver gets a start with the whole text, then the deltas go on', async () => {
    let dropped = 0;
    const storage = lossy((s) => s.type === 'delta' && (s.seq === 3 || s.seq === 4) && ++dropped > 0);
    const sender = await room({}, storage);
    const receiver = new MessageBus(storage, new IndividualRoutingPolicy(), { room: 'talk', logLevel: 'silent', closeStorage: false });
    const critic = watch(receiver, 'critic');
    const stream = await sender.stream(new Message('writer', '', ['critic']));
    for (const piece of ['a', 'b', 'c', 'd', 'e', 'f']) stream.write(piece);
    expect(dropped).toBe(2);
    const starts = critic.events.filter((e) => e.type === 'start');
    expect(starts.map((e) => e.type === 'start' && e.text)).toEqual(['', 'abcde']);
    expect(critic.events.at(-1)).toEqual({ type: 'delta', streamId: stream.id, seq: 6, text: 'f' });
    const stored = await stream.end();
    await waitUntil(() => critic.events.at(-1)?.type === 'end');
    expect(critic.events.at(-1)).toEqual({ type: 'end', streamId: stream.id, message: stored });
  });

  it('a lost end is made up for by the stored message, whose streamId closes the stream', async () => {
    const storage = lossy((s) => s.type === 'end');
    const sender = await room({}, storage);
    const receiver = new MessageBus(storage, new IndividualRoutingPolicy(), { room: 'talk', logLevel: 'silent', closeStorage: false });
    const critic = watch(receiver, 'critic');
    const stream = await sender.stream(new Message('writer', 'x', ['critic']));
    const stored = await stream.end();
    await waitUntil(() => critic.events.at(-1)?.type === 'end');
    expect(critic.events.at(-1)).toEqual({ type: 'end', streamId: stream.id, message: stored });
    expect(receiver.openStreams()).toEqual([]);
  });
});

describe('onStream ends with its subscription', () => {
  it('a removed agent hears of no later stream', async () => {
    const bus = await room();
    const critic = watch(bus, 'critic');
    await bus.removeAgent('critic');
    await bus.connectAgent('critic');
    await bus.stream(new Message('writer', 'x', ['critic']));
    expect(critic.events).toEqual([]);
  });
});
