/**
 * The stream part of the storage conformance suite (`MessageBus.stream`):
 * the stored message of a stream and its `streamId`, read back from reopened
 * storage, and, for a backend with a stream channel (`openStreamChannel`),
 * the events reaching a bus on reopened storage (another tab or process):
 * only the recipients, a late bus starting from all text so far, abort, and
 * a repeated idempotency key. `storageBackendSuite` registers these.
 */
import type { MessageBus, MessageBusOptions } from '../core/bus.js';
import { Message } from '../core/message.js';
import type { RoutingPolicy, StoredMessage, StreamEvent } from '../core/types.js';
import { AddressedRoutingPolicy } from '../routing-policies/addressed.js';
import { assert, assertEqual, assertRejects, waitFor } from './harness.js';

/** What a stream case gets from the suite: buses on one fresh room. */
export interface StreamSuiteContext {
  bus(policy: RoutingPolicy, busOptions?: Pick<MessageBusOptions, 'now' | 'streamIdleMs'>): Promise<MessageBus>;
  reopenBus(bus: MessageBus, policy: RoutingPolicy): Promise<MessageBus>;
}

type Register = (title: string, body: (ctx: StreamSuiteContext) => Promise<void>) => void;

const WAIT_MS = 5000;

/** Registers the stream cases through the suite's `test`. */
export function streamCases(test: Register): void {
  test('a stream stores one message with its recipients, inReplyTo, metadata and streamId, read back from reopened storage', async (ctx) => {
    const bus = await ctx.bus(new AddressedRoutingPolicy());
    await connect(bus, 'writer', 'critic', 'planner');
    const question = await bus.sendMessage(new Message('critic', 'why?', ['writer']));
    const stream = await bus.stream(new Message('writer', '', ['critic'], { inReplyTo: question.id, metadata: { kind: 'answer' } }));
    for (let i = 0; i < 500; i++) stream.write(`t${i} `);
    const stored = await stream.end();
    const text = Array.from({ length: 500 }, (_, i) => `t${i} `).join('');
    assertEqual(
      { content: stored.content, recipients: stored.recipients, inReplyTo: stored.inReplyTo, metadata: stored.metadata },
      { content: text, recipients: ['critic'], inReplyTo: question.id, metadata: { kind: 'answer' } },
      'the stored message',
    );
    assertEqual({ streamId: stored.streamId, thread: stored.thread }, { streamId: stream.id, thread: question.id }, 'streamId and thread');
    assertEqual((await bus.history(0)).length, 2, 'one record for 500 writes');
    const other = await ctx.reopenBus(bus, new AddressedRoutingPolicy());
    assertEqual(await other.history(question.id), [stored], 'reopened storage returns the streamId');
    assertEqual(await other.fetchMessages('critic', question.id), [stored], 'fetch returns the streamId');
    const plain = await bus.sendMessage(new Message('writer', 'plain', ['critic']));
    assert(!('streamId' in plain), 'a sent message has no streamId key');
  });

  test('a bus on the same storage sees a stream live: start, deltas in seq order, end with the stored message', async (ctx) => {
    const bus = await ctx.bus(new AddressedRoutingPolicy());
    await connect(bus, 'writer', 'critic', 'planner');
    const other = await ctx.reopenBus(bus, new AddressedRoutingPolicy());
    const critic = record(other, 'critic');
    const planner = record(other, 'planner');
    const own = record(bus, 'writer');
    const stream = await bus.stream(new Message('writer', 'He', ['critic'], { metadata: { kind: 'answer' } }));
    // A channel over a network may come up after the start was sent: the sender then answers its sync.
    if (shared(bus)) await waitFor(() => critic.events.length === 1, 'the start on the other bus', WAIT_MS);
    stream.write('l');
    stream.write('lo');
    const stored = await stream.end();
    await waitFor(() => own.events.length === 4, "the sender's own watch sees the stream", WAIT_MS);
    assertEqual(own.events, expected(stream.id, stored), 'the sender watching its own stream');
    if (!shared(bus)) return;
    await waitFor(() => critic.events.length === 4 && critic.messages.length === 1, 'the recipient on the other bus', WAIT_MS);
    assertEqual(critic.events, expected(stream.id, stored), 'the recipient on the other bus');
    assertEqual(critic.messages, [stored], 'the stored message reaches the handler');
    await other.sendMessage(new Message('writer', 'after', ['planner']));
    await waitFor(() => planner.messages.length === 1, 'a later message to the planner', WAIT_MS);
    assertEqual(planner.events, [], 'a member that is not a recipient sees nothing of the stream');
  });

  test('a bus opened mid-stream starts from all text so far, then the following deltas; abort reaches it and stores nothing', async (ctx) => {
    const bus = await ctx.bus(new AddressedRoutingPolicy());
    await connect(bus, 'writer', 'critic');
    const stream = await bus.stream(new Message('writer', '', ['critic']));
    for (let i = 0; i < 100; i++) stream.write(`${i},`);
    const late = record(bus, 'critic');
    await waitFor(() => late.events.length === 1, 'a late subscriber on the same bus gets a start', WAIT_MS);
    assertEqual(
      late.events[0],
      { type: 'start', streamId: stream.id, sender: 'writer', recipients: ['critic'], text: stream.text },
      'its start',
    );
    if (shared(bus)) {
      const other = record(await ctx.reopenBus(bus, new AddressedRoutingPolicy()), 'critic');
      await waitFor(() => other.events.length === 1, 'a bus opened mid-stream hears of the stream', WAIT_MS);
      assertEqual(other.events[0], late.events[0], 'its start holds all text so far');
      for (let i = 100; i < 200; i++) stream.write(`${i},`);
      await waitFor(() => textOf(other.events) === stream.text, 'the following deltas', WAIT_MS);
      await stream.abort('model error');
      await waitFor(() => other.events.at(-1)?.type === 'abort', 'the abort', WAIT_MS);
      assertEqual(other.events.at(-1), { type: 'abort', streamId: stream.id, reason: 'model error' }, 'the abort on the other bus');
    } else {
      await stream.abort('model error');
    }
    assertEqual(late.events.at(-1), { type: 'abort', streamId: stream.id, reason: 'model error' }, 'the abort');
    assertEqual(await bus.history(0), [], 'an aborted stream stores nothing');
    await assertRejects(stream.end(), 'CLOSED', 'end() after abort');
  });

  test('a stream with an idempotency key already stored streams as usual, but end() returns the original message', async (ctx) => {
    const bus = await ctx.bus(new AddressedRoutingPolicy());
    await connect(bus, 'writer', 'critic');
    const first = await bus.stream(new Message('writer', '', ['critic'], { idempotencyKey: 'answer-1' }));
    first.write('first');
    const original = await first.end();
    const watcher = record(shared(bus) ? await ctx.reopenBus(bus, new AddressedRoutingPolicy()) : bus, 'critic');
    const again = await bus.stream(new Message('writer', '', ['critic'], { idempotencyKey: 'answer-1' }));
    await waitFor(() => watcher.events.some((e) => e.type === 'start' && e.streamId === again.id), 'the repeat starts', WAIT_MS);
    again.write('second');
    await waitFor(() => watcher.events.some((e) => e.type === 'delta' && e.streamId === again.id), 'the repeat streams', WAIT_MS);
    assertEqual(await again.end(), original, 'end() returns the original message');
    assertEqual(await bus.history(0), [original], 'nothing new is stored');
  });
}

// --- internal helpers ---

async function connect(bus: MessageBus, ...agents: string[]): Promise<void> {
  for (const agent of agents) await bus.connectAgent(agent);
}

/** `true` when the backend has a stream channel, so buses on reopened storage see each other's streams. */
function shared(bus: MessageBus): boolean {
  return typeof bus.storage.openStreamChannel === 'function';
}

function record(bus: MessageBus, agent: string): { events: StreamEvent[]; messages: StoredMessage[] } {
  const seen = { events: [] as StreamEvent[], messages: [] as StoredMessage[] };
  bus.subscribe(agent, (m) => void seen.messages.push(m), { onStream: (e) => void seen.events.push(e) });
  return seen;
}

/** The text a UI shows: a `start` sets it, each `delta` appends. */
function textOf(events: readonly StreamEvent[]): string {
  let text = '';
  for (const event of events) {
    if (event.type === 'start') text = event.text;
    else if (event.type === 'delta') text += event.text;
  }
  return text;
}

function expected(streamId: string, stored: StoredMessage): StreamEvent[] {
  return [
    { type: 'start', streamId, sender: 'writer', recipients: ['critic'], metadata: { kind: 'answer' }, text: 'He' },
    { type: 'delta', streamId, seq: 1, text: 'l' },
    { type: 'delta', streamId, seq: 2, text: 'lo' },
    { type: 'end', streamId, message: stored },
  ];
}
