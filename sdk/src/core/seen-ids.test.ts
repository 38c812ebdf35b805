import { describe, expect, it } from 'vitest';
import { SeenIds } from './seen-ids.js';

describe('SeenIds', () => {
  it('reports each id once, in or out of order', () => {
    const seen = new SeenIds();
    expect([3, 1, 2, 3, 1, 5, 4, 5].map((id) => seen.add(id))).toEqual([true, true, true, false, false, true, true, false]);
  });

  it('stays bounded when ids have gaps that never fill, and still reports recent ids once', () => {
    const seen = new SeenIds(8);
    // Only even ids arrive (another writer has the odd ones and this bus has no watching backend).
    for (let id = 2; id <= 200; id += 2) expect(seen.add(id)).toBe(true);
    for (let id = 190; id <= 200; id += 2) expect(seen.add(id)).toBe(false);
    expect(seen.add(202)).toBe(true);
  });
});
