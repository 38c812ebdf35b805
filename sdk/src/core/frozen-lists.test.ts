import { describe, expect, it } from 'vitest';
import { frozenRouting, isFrozenRouting, soleList } from './frozen-lists.js';

describe('soleList', () => {
  it('is the frozen [id], the same array for the same id', () => {
    const list = soleList('ana');
    expect(list).toEqual(['ana']);
    expect(Object.isFrozen(list)).toBe(true);
    expect(soleList('ana')).toBe(list);
    expect(soleList('ben')).not.toBe(list);
  });

  it('stays correct past its bound: any number of ids, each still its own frozen list', () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => `agent-${i}`);
    for (const id of ids) expect(soleList(id)).toEqual([id]);
    expect(soleList('agent-9999')).toBe(soleList('agent-9999'));
    expect(soleList('agent-0')).toEqual(['agent-0']);
  });
});

describe('isFrozenRouting', () => {
  it('knows the decisions frozenRouting made, and checks others by hand', () => {
    expect(isFrozenRouting(frozenRouting('individual', soleList('ana')))).toBe(true);
    expect(isFrozenRouting(frozenRouting('broadcast', null))).toBe(true);
    expect(isFrozenRouting(Object.freeze({ policy: 'individual', requested: Object.freeze(['ana']) }))).toBe(true);
    expect(isFrozenRouting(Object.freeze({ policy: 'individual', requested: ['ana'] }))).toBe(false);
    expect(isFrozenRouting({ policy: 'broadcast', requested: null })).toBe(false);
  });
});
