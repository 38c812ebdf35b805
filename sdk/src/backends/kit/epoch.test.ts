import { describe, expect, it } from 'vitest';
import { EpochCache } from './epoch.js';

describe('EpochCache', () => {
  it('shares one recipient list per epoch and sender', () => {
    const cache = new EpochCache();
    const epoch = cache.put('room', 1, ['c', 'a', 'b']);
    expect(epoch.all).toEqual(['a', 'b', 'c']);
    expect(epoch.recipients(null)).toBe(epoch.all);
    expect(epoch.recipients('b')).toEqual(['a', 'c']);
    expect(epoch.recipients('b')).toBe(epoch.recipients('b'));
    expect(cache.recipients('room', 1, 'a')).toEqual(['b', 'c']);
    expect(cache.recipients('room', 2, 'a')).toBeUndefined();
  });

  it('stays within its bound of ids, dropping the oldest epochs first', () => {
    const cache = new EpochCache(100);
    const ids = Array.from({ length: 10 }, (_, i) => `agent-${i}`);
    for (let n = 1; n <= 50; n++) {
      const epoch = cache.put('room', n, ids);
      for (const sender of ids) epoch.recipients(sender);
    }
    expect(cache.get('room', 1)).toBeUndefined();
    expect(cache.get('room', 50)).toBeDefined();
    // An epoch its holder keeps using after eviction still answers correctly.
    const held = cache.put('other', 1, ids);
    for (let n = 2; n <= 30; n++) cache.put('other', n, ids);
    expect(held.recipients('agent-3')).toEqual(ids.filter((id) => id !== 'agent-3'));
  });

  it('answers the last lookup again only while its epoch is cached', () => {
    const cache = new EpochCache(20);
    const ids = Array.from({ length: 10 }, (_, i) => `agent-${i}`);
    cache.put('room', 1, ids);
    const first = cache.recipients('room', 1, 'agent-0');
    expect(cache.recipients('room', 1, 'agent-0')).toBe(first);
    expect(cache.recipients('room', 1, 'agent-1')).toEqual(ids.filter((id) => id !== 'agent-1'));
    expect(cache.recipients('other', 1, 'agent-1')).toBeUndefined();
    // Evicted (a second epoch goes over the bound of 20 ids): the cache no longer answers for it.
    cache.recipients('room', 1, 'agent-0');
    cache.put('room', 2, ids);
    cache.put('room', 3, ids);
    expect(cache.get('room', 1)).toBeUndefined();
    expect(cache.recipients('room', 1, 'agent-0')).toBeUndefined();
    cache.recipients('room', 3, null);
    cache.clear();
    expect(cache.recipients('room', 3, null)).toBeUndefined();
  });
});
