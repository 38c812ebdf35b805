// maxGroupsPerMember: how many groups one member may be in (default 100). Beyond it is INVALID_ARGUMENT and
// nothing changes: not the member's groups, not its online state, not the membership itself.
import { describe, expect, it } from 'vitest';
import { InMemoryStorageBackend } from '../src/backends/memory/index.js';
import { DEFAULT_MAX_GROUPS_PER_MEMBER, MessageBus, MessageBusError } from '../src/index.js';
import { SubgroupRoutingPolicy } from '../src/routing-policies/index.js';

const names = (count: number, prefix = 'g') => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

async function expectRefused(call: () => Promise<unknown>): Promise<MessageBusError> {
  const error = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MessageBusError);
  expect((error as MessageBusError).code).toBe('INVALID_ARGUMENT');
  return error as MessageBusError;
}

describe('maxGroupsPerMember', () => {
  it('defaults to 100: connectAgent with 101 groups is refused and changes nothing', async () => {
    expect(DEFAULT_MAX_GROUPS_PER_MEMBER).toBe(100);
    const bus = new MessageBus(new InMemoryStorageBackend(), new SubgroupRoutingPolicy(), { logLevel: 'silent' });
    const error = await expectRefused(() => bus.connectAgent('newcomer', { groups: names(101) }));
    expect(error.message).toContain('maxGroupsPerMember');
    await expectRefused(() => bus.connectAgent('newcomer', { groups: names(5000) }));
    expect(await bus.agents()).toEqual([]);

    await bus.connectAgent('a', { groups: ['first'] });
    await bus.disconnectAgent('a');
    await expectRefused(() => bus.connectAgent('a', { groups: names(101) }));
    expect((await bus.agents()).map((m) => [m.id, m.online, m.groups])).toEqual([['a', false, ['first']]]);

    const member = await bus.connectAgent('a', { groups: names(100) });
    expect(member.groups).toHaveLength(100);
  });

  it('joinGroup past the limit is refused; re-joining a group it is in and leaving still work', async () => {
    const bus = new MessageBus(new InMemoryStorageBackend(), new SubgroupRoutingPolicy(), { logLevel: 'silent', maxGroupsPerMember: 3 });
    await bus.connectAgent('a', { groups: ['g0', 'g1', 'g2'] });
    const error = await expectRefused(() => bus.joinGroup('a', 'g3'));
    expect(error.details).toEqual({ limit: 3 });
    expect(error.message).toContain('leave one first');
    expect((await bus.agents())[0]?.groups).toEqual(['g0', 'g1', 'g2']);
    expect(await bus.joinGroup('a', 'g1')).toEqual(['g0', 'g1', 'g2']);
    expect(await bus.leaveGroup('a', 'g0')).toEqual(['g1', 'g2']);
    expect(await bus.joinGroup('a', 'g3')).toEqual(['g1', 'g2', 'g3']);
    await expectRefused(() => bus.connectAgent('b', { groups: ['x', 'y', 'z', 'w'] }));
    // Repeats count once, as on the worker (MAX_GROUPS_PER_MEMBER).
    expect((await bus.connectAgent('c', { groups: ['x', 'y', 'x', 'z', 'y'] })).groups).toEqual(['x', 'y', 'z']);
  });

  it('must be a positive integer', () => {
    for (const maxGroupsPerMember of [0, -5, 2.5, Number.NaN]) {
      expect(() => new MessageBus(new InMemoryStorageBackend(), new SubgroupRoutingPolicy(), { maxGroupsPerMember })).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      );
    }
  });
});
