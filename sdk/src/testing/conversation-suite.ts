/**
 * The conversation part of the storage conformance suite: replies and
 * threads, the visibility rule of `inReplyTo`, `fetchThread`, `fetchLatest`,
 * metadata, and request/reply between two buses over the same storage.
 * `storageBackendSuite` registers these with its other cases.
 */
import type { MessageBus } from '../core/bus.js';
import { Message } from '../core/message.js';
import type { RoutingPolicy } from '../core/types.js';
import { AddressedRoutingPolicy } from '../routing-policies/addressed.js';
import { BroadcastRoutingPolicy } from '../routing-policies/broadcast.js';
import { IndividualRoutingPolicy } from '../routing-policies/individual.js';
import { assert, assertEqual, assertRejects, waitFor } from './harness.js';

/** What a conversation case gets from the suite: buses on one fresh room. */
export interface SuiteContext {
  bus(policy: RoutingPolicy, busOptions?: { now?: () => number }, storage?: { maxMessages?: number }): Promise<MessageBus>;
  reopenBus(bus: MessageBus, policy: RoutingPolicy): Promise<MessageBus>;
}

type Register = (title: string, body: (ctx: SuiteContext) => Promise<void>) => void;

const ids = (messages: readonly { id: number }[]) => messages.map((m) => m.id);

/** Registers the conversation cases through the suite's `test`. */
export function conversationCases(test: Register): void {
  test('a message is its own thread; a reply stores inReplyTo and inherits the thread, on every read', async (ctx) => {
    const bus = await ctx.bus(new AddressedRoutingPolicy());
    await connect(bus, 'planner', 'researcher', 'critic');
    const question = await bus.sendMessage(new Message('planner', 'which sources?', ['researcher']));
    assertEqual({ thread: question.thread, inReplyTo: question.inReplyTo }, { thread: question.id }, 'a root');
    assert(!('inReplyTo' in question) && !('metadata' in question), 'a root has no inReplyTo key and no metadata key');
    const answer = await bus.sendMessage(
      new Message('researcher', 'three', ['planner', 'critic'], { inReplyTo: question.id, metadata: { kind: 'answer', n: 3 } }),
    );
    assertEqual(
      { inReplyTo: answer.inReplyTo, thread: answer.thread, metadata: answer.metadata },
      { inReplyTo: question.id, thread: question.id, metadata: { kind: 'answer', n: 3 } },
      'the answer',
    );
    const remark = await bus.sendMessage(new Message('critic', 'which three?', ['researcher'], { inReplyTo: answer.id }));
    assertEqual(
      { inReplyTo: remark.inReplyTo, thread: remark.thread },
      { inReplyTo: answer.id, thread: question.id },
      'a reply to a reply',
    );
    const [fetched] = await bus.fetchMessages('planner', question.id);
    assertEqual(fetched, answer, 'fetch returns the fields');
    assertEqual(await bus.history(0), [question, answer, remark], 'history returns the fields');
    const other = await ctx.reopenBus(bus, new AddressedRoutingPolicy());
    assertEqual(await other.history(0), [question, answer, remark], 'a reopened store returns the fields');
    const seen: unknown[] = [];
    const stop = other.subscribe('researcher', (m) => void seen.push(m), { after: 0 });
    await waitFor(() => seen.length === 2, 'the subscription replays both', 3000);
    stop();
    assertEqual(seen, [question, remark], 'subscribe returns the fields');
  });

  test('inReplyTo must name a message the sender sent or was routed to its current membership; else INVALID_ARGUMENT, the same for every reason', async (ctx) => {
    const bus = await ctx.bus(new IndividualRoutingPolicy());
    await connect(bus, 'a', 'b', 'c');
    const toB = await bus.sendMessage(new Message('a', 'for b only', ['b'])); // 1
    const byC = await bus.sendMessage(new Message('c', 'c to a', ['a'])); // 2
    // Allowed: a message routed to the sender, and one it sent (even though it was not routed to itself).
    await bus.sendMessage(new Message('b', 'reply', ['a'], { inReplyTo: toB.id }));
    await bus.sendMessage(new Message('c', 'follow-up', ['a'], { inReplyTo: byC.id }));
    const before = await bus.history(0);
    const refusals = [
      await assertRejects(bus.sendMessage(new Message('c', 'x', ['a'], { inReplyTo: toB.id })), 'INVALID_ARGUMENT', 'hidden'),
      await assertRejects(bus.sendMessage(new Message('c', 'x', ['a'], { inReplyTo: 999 })), 'INVALID_ARGUMENT', 'missing'),
      await assertRejects(bus.sendMessage(new Message('c', 'x', ['a'], { inReplyTo: before.length + 1 })), 'INVALID_ARGUMENT', 'next id'),
    ];
    // Different ids and reasons, one text: nothing in it tells a hidden message from a missing one.
    assertEqual(new Set(refusals.map((e) => e.message)).size, 1, 'one message text for hidden and missing');
    assertEqual(
      refusals.map((e) => e.details),
      [{}, {}, {}],
      'no details',
    );
    // A message routed to an earlier membership of the sender is not visible to the new one.
    await bus.removeAgent('b');
    await bus.connectAgent('b');
    await assertRejects(bus.sendMessage(new Message('b', 'x', ['a'], { inReplyTo: toB.id })), 'INVALID_ARGUMENT', 'before re-joining');
    assertEqual(await bus.history(0), before, 'nothing stored by the refusals');
    assertEqual((await bus.sendMessage(new Message('a', 'next', ['b']))).id, before.length + 1, 'no id consumed');
  });

  test('a reply to a message trimmed by retention is refused; fetchThread and fetchLatest return what is retained', async (ctx) => {
    const bus = await ctx.bus(new BroadcastRoutingPolicy(), {}, { maxMessages: 4 });
    await connect(bus, 'a', 'b');
    const root = await bus.sendMessage(new Message('a', 'root'));
    let parent = root;
    for (let i = 0; i < 5; i++)
      parent = await bus.sendMessage(new Message(i % 2 ? 'a' : 'b', `r${i}`, undefined, { inReplyTo: parent.id }));
    // Retained: 3..6, all in root's thread.
    await assertRejects(bus.sendMessage(new Message('b', 'late', undefined, { inReplyTo: root.id })), 'INVALID_ARGUMENT', 'trimmed');
    assertEqual(ids(await bus.fetchThread('b', root.id)), [3, 4, 5, 6], 'the retained part of the thread');
    assertEqual(ids(await bus.fetchLatest('b', { limit: 10 })), [3, 5], 'the retained messages routed to b');
    assertEqual(ids(await bus.fetchLatest('b', { limit: 10, before: 4 })), [3], 'down to the oldest retained');
  });

  test('fetchThread returns the thread visible to the agent, ascending, after an id, up to a limit', async (ctx) => {
    const bus = await ctx.bus(new AddressedRoutingPolicy());
    await bus.connectAgent('p');
    await bus.connectAgent('r', { groups: ['research'] });
    await bus.connectAgent('q', { groups: ['research'] });
    await bus.connectAgent('x');
    const root = await bus.sendMessage(new Message('p', 'question', ['#research'])); // 1
    await bus.sendMessage(new Message('x', 'unrelated')); // 2
    const a1 = await bus.sendMessage(new Message('r', 'answer', ['p'], { inReplyTo: root.id })); // 3: p, r (sender)
    const a2 = await bus.sendMessage(new Message('q', 'me too', ['p', 'r'], { inReplyTo: root.id })); // 4
    const a3 = await bus.sendMessage(new Message('p', 'thanks', ['q'], { inReplyTo: a2.id })); // 5
    assertEqual(ids(await bus.fetchThread('p', root.id)), [1, 3, 4, 5], 'the asker sees its thread');
    assertEqual(ids(await bus.fetchThread('r', root.id)), [1, 3, 4], 'r: what it sent or received');
    assertEqual(ids(await bus.fetchThread('q', root.id, { after: 1 })), [4, 5], 'after an id');
    assertEqual(ids(await bus.fetchThread('p', root.id, { after: 1, limit: 2 })), [3, 4], 'up to a limit');
    assertEqual(await bus.fetchThread('x', root.id), [], 'a thread the agent cannot see');
    assertEqual(await bus.fetchThread('p', a1.id), [], 'an id that is not a root');
    assertEqual(await bus.fetchThread('p', 999), [], 'an id that does not exist');
    assertEqual(ids(await bus.fetchThread('x', 2)), [2], 'a lone message is a thread of one');
    assertEqual(a3.thread, root.id, 'deep replies stay in the root thread');
    await assertRejects(bus.fetchThread('ghost', root.id), 'UNKNOWN_AGENT', 'a non-member');
    for (const bad of [0, -1, 1.5, Number.NaN]) await assertRejects(bus.fetchThread('p', bad), 'INVALID_ARGUMENT', `thread ${bad}`);
    await assertRejects(bus.fetchThread('p', root.id, { after: -1 }), 'INVALID_ARGUMENT', 'a bad after');
    await assertRejects(bus.fetchThread('p', root.id, { limit: 1001 }), 'INVALID_ARGUMENT', 'a limit over 1000');
  });

  test('fetchThread follows the current membership, like fetchMessages', async (ctx) => {
    const bus = await ctx.bus(new BroadcastRoutingPolicy());
    await connect(bus, 'a', 'b');
    const root = await bus.sendMessage(new Message('a', 'root'));
    await bus.sendMessage(new Message('b', 'from b', undefined, { inReplyTo: root.id }));
    await bus.removeAgent('b');
    await bus.connectAgent('b');
    const after = await bus.sendMessage(new Message('a', 'later', undefined, { inReplyTo: root.id }));
    assertEqual(ids(await bus.fetchThread('b', root.id)), [2, after.id], 'its own message, and what the new membership received');
  });

  test('fetchLatest returns the newest messages routed to the agent, ascending, below before; a UI pages up with it', async (ctx) => {
    const bus = await ctx.bus(new AddressedRoutingPolicy());
    await connect(bus, 'a', 'b', 'c');
    for (let i = 1; i <= 30; i++) {
      const sender = i % 3 === 0 ? 'b' : 'a';
      await bus.sendMessage(new Message(sender, i, i % 5 === 0 ? ['c'] : undefined));
    }
    // b receives a's messages that are not to c only: ids not divisible by 3 and not by 5.
    const forB = Array.from({ length: 30 }, (_, i) => i + 1).filter((i) => i % 3 !== 0 && i % 5 !== 0);
    assertEqual(ids(await bus.fetchLatest('b')), forB, 'everything, by default, ascending, own messages excluded');
    assertEqual(ids(await bus.fetchLatest('b', { limit: 3 })), forB.slice(-3), 'the newest three');
    assertEqual(ids(await bus.fetchLatest('b', { limit: 3, before: 16 })), [11, 13, 14], 'the newest three below 16');
    const pages: number[][] = [];
    let before: number | undefined;
    for (;;) {
      const page = await bus.fetchLatest('b', { limit: 4, ...(before === undefined ? {} : { before }) });
      if (page.length === 0) break;
      pages.unshift(ids(page));
      before = page[0]?.id;
    }
    assertEqual(pages.flat(), forB, 'paging up with before = the first id held covers everything once');
    assertEqual(await bus.fetchLatest('b', { before: 1 }), [], 'nothing below the first id');
    await assertRejects(bus.fetchLatest('ghost'), 'UNKNOWN_AGENT', 'a non-member');
    for (const bad of [-1, 1.5, Number.NaN, '3']) {
      await assertRejects(bus.fetchLatest('b', { before: bad as number }), 'INVALID_ARGUMENT', `before ${String(bad)}`);
    }
    await assertRejects(bus.fetchLatest('b', { limit: 0 }), 'INVALID_ARGUMENT', 'limit 0');
    await assertRejects(bus.fetchLatest('b', { limit: 1001 }), 'INVALID_ARGUMENT', 'a limit over 1000');
  });

  test('fetchLatest counts only the current membership, and the agent own messages only when routed to it', async (ctx) => {
    const bus = await ctx.bus(new BroadcastRoutingPolicy({ includeSender: true }));
    await connect(bus, 'a', 'b');
    await bus.sendMessage(new Message('a', 'before leaving'));
    await bus.removeAgent('b');
    await bus.sendMessage(new Message('a', 'while away'));
    await bus.connectAgent('b');
    const own = await bus.sendMessage(new Message('b', 'back'));
    assertEqual(ids(await bus.fetchLatest('b')), [own.id], 'only the new membership, its own broadcast included');
    const plain = await ctx.bus(new BroadcastRoutingPolicy());
    await connect(plain, 'x', 'y');
    await plain.sendMessage(new Message('x', 'mine'));
    assertEqual(await plain.fetchLatest('x'), [], 'an own broadcast that excludes the sender is not routed to it');
  });

  test('a request on one bus resolves with a reply sent through another bus on the same storage', async (ctx) => {
    const asker = await ctx.bus(new AddressedRoutingPolicy());
    await connect(asker, 'planner', 'researcher');
    const answerer = await ctx.reopenBus(asker, new AddressedRoutingPolicy());
    answerer.subscribe(
      'researcher',
      async (m) => {
        if (m.metadata?.kind !== 'question') return;
        await answerer.sendMessage(new Message('researcher', 'noise first', ['planner']));
        await answerer.sendMessage(new Message('researcher', `answer to ${String(m.content)}`, ['planner'], { inReplyTo: m.id }));
      },
      { after: 0 },
    );
    const reply = await asker.request(new Message('planner', 'q1', ['researcher'], { metadata: { kind: 'question' } }), {
      timeoutMs: 10_000,
    });
    assertEqual({ content: reply.content, inReplyTo: reply.inReplyTo }, { content: 'answer to q1', inReplyTo: 1 }, 'the reply');
  });

  test('a request re-sent with its idempotency key resolves with the earliest reply already stored', async (ctx) => {
    const bus = await ctx.bus(new AddressedRoutingPolicy());
    await connect(bus, 'planner', 'researcher');
    const options = { idempotencyKey: 'ask-1' };
    const asked = await bus.sendMessage(new Message('planner', 'q', ['researcher'], options));
    const first = await bus.sendMessage(new Message('researcher', 'first', ['planner'], { inReplyTo: asked.id }));
    await bus.sendMessage(new Message('researcher', 'second', ['planner'], { inReplyTo: asked.id }));
    const reply = await bus.request(new Message('planner', 'q', ['researcher'], options), { timeoutMs: 10_000 });
    assertEqual(reply, first, 'the earliest reply');
    assertEqual((await bus.history(0)).length, 3, 'nothing new stored');
  });
}

// --- internal helpers ---

async function connect(bus: MessageBus, ...agents: string[]): Promise<void> {
  for (const agent of agents) await bus.connectAgent(agent);
}
