import type { StoredMessage } from 'modular-message-bus-library';
import { describe, expect, it } from 'vitest';
import { FilterCache, matchesFilter } from './filter.js';

const message = (
  id: number,
  sender: string,
  recipients: string[],
  requested: string[] | null,
  content: StoredMessage['content'],
): StoredMessage => ({
  id,
  room: 'lab',
  timestamp: 1_700_000_000_000 + id,
  sender,
  content,
  recipients,
  routing: { policy: requested ? 'subgroup' : 'broadcast', requested },
});

const messages = [
  message(1, 'planner', ['coder', 'critic', 'r1', 'r2'], null, 'kick-off'),
  message(2, 'planner', ['r1', 'r2'], ['research'], { task: 'Find papers' }),
  message(3, 'r1', ['planner'], ['planner'], 'found three'),
  message(4, 'coder', ['critic'], ['critic'], 'review please'),
];
const research = new Set(['r1', 'r2']);

describe('timeline filter', () => {
  it('filters by agent as sender or recipient', () => {
    expect(messages.filter((m) => matchesFilter(m, { agent: 'critic', group: '', text: '' }, new Set())).map((m) => m.id)).toEqual([1, 4]);
  });

  it('filters by group: addressed to it or sent by a member', () => {
    expect(messages.filter((m) => matchesFilter(m, { agent: '', group: 'research', text: '' }, research)).map((m) => m.id)).toEqual([2, 3]);
  });

  it('filters by text in JSON content, case-insensitively', () => {
    expect(messages.filter((m) => matchesFilter(m, { agent: '', group: '', text: 'PAPERS' }, new Set())).map((m) => m.id)).toEqual([2]);
  });

  it('extends a cached result with new messages and restarts when the filter changes', () => {
    const cache = new FilterCache();
    const filter = { agent: 'planner', group: '', text: '' };
    expect(cache.compute(messages, 2, filter, new Set())).toEqual([0, 1]);
    expect(cache.compute(messages, 4, filter, new Set())).toEqual([0, 1, 2]);
    expect(cache.compute(messages, 4, { ...filter, agent: 'coder' }, new Set())).toEqual([0, 3]);
    expect(cache.compute(messages, 1, { ...filter, agent: 'coder' }, new Set())).toEqual([0]);
  });
});
