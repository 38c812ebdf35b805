import type { StoredMessage } from 'modular-message-bus-library';
import { describe, expect, it } from 'vitest';
import { conversationFacts } from '../inspector/conversation-facts.js';
import { MessageStore } from './message-store.js';

const message = (
  id: number,
  sender: string,
  reply?: { to: number; thread: number },
  metadata?: StoredMessage['metadata'],
): StoredMessage => ({
  id,
  room: 'crew',
  timestamp: id,
  sender,
  content: `message ${id}`,
  recipients: [],
  routing: { policy: 'addressed', requested: null },
  thread: reply?.thread ?? id,
  ...(reply ? { inReplyTo: reply.to } : {}),
  ...(metadata ? { metadata } : {}),
});

// planner asks (#1); researcher answers (#2), critic answers the answer (#4); #3 is unrelated.
const fixture = [
  message(1, 'planner', undefined, { kind: 'question' }),
  message(2, 'researcher', { to: 1, thread: 1 }, { kind: 'answer' }),
  message(3, 'coder'),
  message(4, 'critic', { to: 2, thread: 1 }),
  message(5, 'planner', { to: 1, thread: 1 }),
];

describe('conversation index of the message store', () => {
  it('lists replies per message and messages per thread, as they arrive', () => {
    const store = new MessageStore();
    store.append(fixture.slice(0, 3));
    expect(store.conversations.repliesTo(1)).toEqual([2]);
    store.append(fixture.slice(3));
    expect(store.conversations.repliesTo(1)).toEqual([2, 5]);
    expect(store.conversations.repliesTo(2)).toEqual([4]);
    expect(store.conversations.repliesTo(3)).toEqual([]);
    expect(store.conversations.thread(1)).toEqual([1, 2, 4, 5]);
    expect(store.conversations.thread(3)).toEqual([3]);
    expect(store.conversations.threadRoots()).toEqual([1]);
  });

  it('ignores repeated ids (a replayed page) and forgets everything on reset', () => {
    const store = new MessageStore();
    store.append(fixture);
    store.append(fixture.slice(1, 2));
    expect(store.conversations.repliesTo(1)).toEqual([2, 5]);
    store.reset();
    expect(store.conversations.repliesTo(1)).toEqual([]);
    expect(store.conversations.threadRoots()).toEqual([]);
  });
});

describe('inspector conversation facts', () => {
  it('names the message answered, the thread and the replies', () => {
    const store = new MessageStore();
    store.append(fixture);
    const answer = conversationFacts(store.get(2) as StoredMessage, store);
    expect(answer.parent).toEqual({ id: 1, message: fixture[0] });
    expect(answer.thread).toBe(1);
    expect(answer.threadSize).toBe(4);
    expect(answer.replies.map((m) => m.id)).toEqual([4]);
    const root = conversationFacts(store.get(1) as StoredMessage, store);
    expect(root.parent).toBeNull();
    expect(root.replies.map((m) => m.id)).toEqual([2, 5]);
  });

  it('says when the message answered is not held (trimmed, or before the loaded history)', () => {
    const store = new MessageStore();
    store.append(fixture.slice(1, 2));
    expect(conversationFacts(store.get(2) as StoredMessage, store).parent).toEqual({ id: 1, message: null });
  });
});
