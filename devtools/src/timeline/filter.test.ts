import type { StoredMessage } from 'modular-message-bus-library';
import { describe, expect, it } from 'vitest';
import { EMPTY_FILTER, FilterCache, isEmptyFilter, matchesFilter, rowOf } from './filter.js';

const message = (
  id: number,
  sender: string,
  recipients: string[],
  requested: string[] | null,
  content: StoredMessage['content'],
  reply?: { inReplyTo: number; thread: number },
): StoredMessage => ({
  id,
  room: 'lab',
  timestamp: 1_700_000_000_000 + id,
  sender,
  content,
  recipients,
  routing: { policy: requested ? 'subgroup' : 'broadcast', requested },
  thread: reply?.thread ?? id,
  ...(reply ? { inReplyTo: reply.inReplyTo } : {}),
});

const messages = [
  message(1, 'planner', ['coder', 'critic', 'r1', 'r2'], null, 'kick-off'),
  message(2, 'planner', ['r1', 'r2'], ['research'], { task: 'Find papers' }),
  message(3, 'r1', ['planner'], ['planner'], 'found three', { inReplyTo: 2, thread: 2 }),
  message(4, 'coder', ['critic'], ['critic'], 'review please'),
  message(5, 'critic', ['r1'], ['r1'], 'which three?', { inReplyTo: 3, thread: 2 }),
];
const research = new Set(['r1', 'r2']);
const filter = (changes: Partial<typeof EMPTY_FILTER>) => ({ ...EMPTY_FILTER, ...changes });

describe('timeline filter', () => {
  it('filters by agent as sender or recipient', () => {
    expect(messages.filter((m) => matchesFilter(m, filter({ agent: 'critic' }), new Set())).map((m) => m.id)).toEqual([1, 4, 5]);
  });

  it('filters by group: addressed to it or sent by a member', () => {
    expect(messages.filter((m) => matchesFilter(m, filter({ group: 'research' }), research)).map((m) => m.id)).toEqual([2, 3]);
  });

  it('filters by group named the addressed way, as #group', () => {
    const addressed = message(6, 'planner', ['r1', 'r2', 'coder'], ['#research', 'coder'], 'both');
    expect(matchesFilter(addressed, filter({ group: 'research' }), new Set())).toBe(true);
    expect(matchesFilter(addressed, filter({ group: 'build' }), new Set())).toBe(false);
  });

  it('filters by text in JSON content, case-insensitively', () => {
    expect(messages.filter((m) => matchesFilter(m, filter({ text: 'PAPERS' }), new Set())).map((m) => m.id)).toEqual([2]);
  });

  it('filters by thread: the root and every reply down the chain', () => {
    expect(messages.filter((m) => matchesFilter(m, filter({ thread: 2 }), new Set())).map((m) => m.id)).toEqual([2, 3, 5]);
    expect(messages.filter((m) => matchesFilter(m, filter({ thread: 4 }), new Set())).map((m) => m.id)).toEqual([4]);
    expect(messages.filter((m) => matchesFilter(m, filter({ thread: 2, agent: 'critic' }), new Set())).map((m) => m.id)).toEqual([5]);
    expect(isEmptyFilter(filter({ thread: 2 }))).toBe(false);
    expect(isEmptyFilter(EMPTY_FILTER)).toBe(true);
  });

  it('treats a message without a thread (stored before threads) as its own root', () => {
    const { thread: _, ...old } = message(9, 'planner', ['r1'], ['r1'], 'old');
    expect(matchesFilter(old as StoredMessage, filter({ thread: 9 }), new Set())).toBe(true);
    expect(matchesFilter(old as StoredMessage, filter({ thread: 2 }), new Set())).toBe(false);
  });

  it('extends a cached result with new messages and restarts when the filter changes', () => {
    const cache = new FilterCache();
    const planner = filter({ agent: 'planner' });
    expect(cache.compute(messages, 2, planner, new Set())).toEqual([0, 1]);
    expect(cache.compute(messages, 4, planner, new Set())).toEqual([0, 1, 2]);
    expect(cache.compute(messages, 4, { ...planner, agent: 'coder' }, new Set())).toEqual([0, 3]);
    expect(cache.compute(messages, 1, { ...planner, agent: 'coder' }, new Set())).toEqual([0]);
    expect(cache.compute(messages, 5, filter({ thread: 2 }), new Set())).toEqual([1, 2, 4]);
  });

  it('finds the row of a message among the filtered rows, or -1 when filtered out', () => {
    const indexes = [1, 2, 4]; // messages 2, 3 and 5
    expect(rowOf(messages, indexes, 5)).toBe(2);
    expect(rowOf(messages, indexes, 2)).toBe(0);
    expect(rowOf(messages, indexes, 4)).toBe(-1);
    expect(rowOf(messages, [], 1)).toBe(-1);
  });
});
