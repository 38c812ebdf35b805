import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { StoredMessage } from '../api/types.js';
import { StreamStore } from './stream-store.js';

const start = (streamId: string, text = '', seq = 0) =>
  ({ type: 'start', streamId, sender: 'writer', recipients: ['critic'], text, seq }) as const;

describe('StreamStore', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('grows a stream with its deltas, in seq order, and drops it when it ends', () => {
    const store = new StreamStore(() => 1);
    store.apply(start('s1', 'He'));
    store.apply({ type: 'delta', streamId: 's1', seq: 1, text: 'l' });
    store.apply({ type: 'delta', streamId: 's1', seq: 1, text: 'l' }); // a repeat changes nothing
    store.apply({ type: 'delta', streamId: 's1', seq: 2, text: 'lo' });
    expect(store.get('s1')).toMatchObject({ text: 'Hello', seq: 2, status: 'streaming', sender: 'writer', recipients: ['critic'] });
    store.apply({ type: 'end', streamId: 's1', message: { id: 1 } as StoredMessage });
    expect(store.list()).toEqual([]);
  });

  it('keeps an aborted stream, marked aborted with its reason; a start after a reconnect replaces the text', () => {
    const store = new StreamStore();
    store.apply(start('a', 'x', 1));
    store.apply(start('a', 'xyz', 3));
    expect(store.get('a')?.text).toBe('xyz');
    store.apply({ type: 'abort', streamId: 'a', reason: 'IDLE' });
    expect(store.list()).toMatchObject([{ streamId: 'a', status: 'aborted', reason: 'IDLE', text: 'xyz' }]);
    store.apply(start('b'));
    expect(store.list().map((s) => s.streamId)).toEqual(['b', 'a']);
    store.ended('b');
    expect(store.list().map((s) => s.streamId)).toEqual(['a']);
  });

  it('tells listeners at most once per 100 ms, however many deltas came', () => {
    const store = new StreamStore();
    const listener = vi.fn();
    store.subscribe(listener);
    store.apply(start('s'));
    for (let i = 1; i <= 50; i++) store.apply({ type: 'delta', streamId: 's', seq: i, text: '.' });
    expect(listener).not.toHaveBeenCalled();
    vi.advanceTimersByTime(100);
    expect(listener).toHaveBeenCalledTimes(1);
    expect(store.getVersion()).toBe(1);
  });
});
