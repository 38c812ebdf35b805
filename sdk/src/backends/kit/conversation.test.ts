import { describe, expect, it } from 'vitest';
import { MessageBusError } from '../../core/errors.js';
import type { StoredMessage } from '../../core/types.js';
import { latestBroadcastWalk, latestWindow, newestAscending, replyThread, seenBy, ThreadIndex } from './conversation.js';
import { DeliveryIndex } from './delivery-index.js';
import { type BroadcastSource, walkSync } from './own-runs.js';

const message = (id: number, sender: string, recipients: string[], thread = id): StoredMessage => ({
  id,
  room: 'r',
  timestamp: id,
  sender,
  content: null,
  recipients,
  routing: { policy: 'test', requested: null },
  thread,
});

describe('seenBy', () => {
  it('is true for what the member sent, in any membership, and for what reached its current membership', () => {
    const viewer = { id: 'b', joinedAfter: 10 };
    expect(seenBy(viewer, message(3, 'b', []))).toBe(true);
    expect(seenBy(viewer, message(11, 'a', ['a', 'b', 'c']))).toBe(true);
    expect(seenBy(viewer, message(9, 'a', ['b']))).toBe(false); // an earlier membership's mail
    expect(seenBy(viewer, message(12, 'a', ['c']))).toBe(false);
    expect(seenBy(viewer, message(12, 'a', []))).toBe(false);
  });
});

describe('replyThread', () => {
  it('gives a root its own id and a reply its parent thread', () => {
    const sender = { id: 'b', joinedAfter: 0 };
    expect(replyThread('t', 'r', 5, undefined, undefined, sender)).toBe(5);
    expect(replyThread('t', 'r', 5, 3, message(3, 'a', ['b'], 1), sender)).toBe(1);
  });

  it('refuses a missing, mismatched or hidden parent with one code and one text that names no id', () => {
    const sender = { id: 'b', joinedAfter: 0 };
    const refusal = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        expect(MessageBusError.is(error, 'INVALID_ARGUMENT')).toBe(true);
        return (error as Error).message;
      }
      throw new Error('expected a refusal');
    };
    const texts = new Set([
      refusal(() => replyThread('t', 'r', 5, 4, undefined, sender)),
      refusal(() => replyThread('t', 'r', 5, 4, message(3, 'a', ['b']), sender)),
      refusal(() => replyThread('t', 'r', 5, 3, message(3, 'a', ['c']), sender)),
    ]);
    expect(texts.size).toBe(1);
    expect([...texts][0]).not.toMatch(/\b[34]\b/);
  });
});

describe('the fetchLatest window and walk', () => {
  it('starts above the membership and the retained history, with no upper bound by default', () => {
    expect(latestWindow(5, 3, null)).toEqual({ floor: 5, before: Number.POSITIVE_INFINITY });
    expect(latestWindow(0, 8, 20)).toEqual({ floor: 7, before: 20 });
  });

  it('gives what a scan gives, and jumps over an own run of 10,000 broadcasts in a few lookups', () => {
    const index = new DeliveryIndex();
    const scan: { id: number; excluded: string | null }[] = [];
    let id = 0;
    const add = (excluded: string | null) => {
      index.addBroadcast(++id, excluded);
      scan.push({ id, excluded });
    };
    for (let i = 0; i < 50; i++) add(i % 7 === 0 ? null : i % 2 ? 'a' : 'b');
    for (let i = 0; i < 10_000; i++) add('a');
    for (let i = 0; i < 5; i++) add('b');
    let requests = 0;
    const counted: BroadcastSource = {
      ownRuns: (...args) => index.ownRuns(...args),
      broadcasts: (...args) => index.broadcasts(...args),
      broadcastBefore: (agent, before) => {
        requests++;
        return index.broadcastBefore(agent, before);
      },
      ownRunAt: (agent, at) => {
        requests++;
        return index.ownRunAt(agent, at);
      },
    };
    for (const [floor, before, limit] of [
      [0, Number.POSITIVE_INFINITY, 10],
      [0, 10_050, 3],
      [20, 40, 100],
      [0, 1, 5],
    ] as const) {
      const expected = scan
        .filter((b) => b.id > floor && b.id < before && b.excluded !== 'a')
        .map((b) => b.id)
        .slice(-limit)
        .reverse();
      expect(walkSync(latestBroadcastWalk('a', floor, before, limit), counted)).toEqual(expected);
    }
    requests = 0;
    walkSync(latestBroadcastWalk('a', 0, Number.POSITIVE_INFINITY, 10), counted);
    expect(requests).toBeLessThan(30);
  });

  it('merges direct and broadcast ids newest first into the newest ascending', () => {
    expect(newestAscending([9, 5, 2], [8, 7, 1], 4)).toEqual([5, 7, 8, 9]);
    expect(newestAscending([], [3, 2], 5)).toEqual([2, 3]);
  });

  it('DeliveryIndex.latestIds mixes an agent direct mail and broadcasts', () => {
    const index = new DeliveryIndex();
    index.join('b', 0);
    index.addBroadcast(1, 'a');
    index.addList(2, ['b']);
    index.addBroadcast(3, 'b'); // b's own
    index.addList(4, ['c']);
    index.addBroadcast(5, null);
    index.addList(6, ['b']);
    expect(index.latestIds('b', 0, Number.POSITIVE_INFINITY, 10)).toEqual([1, 2, 5, 6]);
    expect(index.latestIds('b', 0, 6, 2)).toEqual([2, 5]);
    expect(index.latestIds('b', 1, 6, 10)).toEqual([2, 5]);
  });
});

describe('ThreadIndex', () => {
  it('lists the root, then its replies, above an id, that pass the filter; a reply is no thread', () => {
    const threads = new ThreadIndex();
    for (const [thread, id] of [
      [1, 1],
      [2, 2],
      [1, 3],
      [1, 4],
      [2, 5],
      [1, 6],
    ] as const)
      threads.add(thread, id);
    expect(threads.ids(1, 0, 10, true, () => true)).toEqual([1, 3, 4, 6]);
    expect(threads.ids(1, 3, 2, true, () => true)).toEqual([4, 6]);
    expect(threads.ids(1, 0, 10, true, (id) => id % 2 === 0)).toEqual([4, 6]);
    expect(threads.ids(3, 0, 10, false, () => true)).toEqual([]);
    expect(threads.ids(1, 0, 10, false, () => true)).toEqual([3, 4, 6]); // root trimmed
    threads.dropBelow(5);
    expect(threads.ids(1, 0, 10, false, () => true)).toEqual([6]);
    expect(threads.ids(2, 0, 10, false, () => true)).toEqual([5]);
  });
});
