import type { StoredMessage } from 'modular-message-bus-library';
import { describe, expect, it } from 'vitest';
import { EVERYONE, FlowAggregate, targetsOf } from './graph-model.js';

const room = { memberIds: new Set(['planner', 'r1', 'r2', 'coder']), groupNames: new Set(['research']) };
const message = (id: number, sender: string, recipients: string[], requested: string[] | null): StoredMessage => ({
  id,
  room: 'lab',
  timestamp: id,
  sender,
  content: null,
  recipients,
  routing: { policy: requested ? 'subgroup' : 'broadcast', requested },
});

describe('flow graph model', () => {
  it('draws a room-wide message to the everyone node, a group message to the group, a direct one to the agent', () => {
    expect(targetsOf(message(1, 'planner', ['coder', 'r1', 'r2'], null), room)).toEqual([EVERYONE]);
    expect(targetsOf(message(2, 'planner', ['r1', 'r2'], ['research']), room)).toEqual(['group:research']);
    expect(targetsOf(message(3, 'r1', ['coder'], ['coder']), room)).toEqual(['agent:coder']);
  });

  it('counts messages per edge and rebuilds when the prefix shrinks (replay)', () => {
    const messages = [message(1, 'r1', ['coder'], ['coder']), message(2, 'r1', ['coder'], ['coder']), message(3, 'coder', ['r1'], ['r1'])];
    const aggregate = new FlowAggregate();
    aggregate.update(messages, 3, room);
    expect(aggregate.edges.get('e:agent:r1->agent:coder')?.count).toBe(2);
    expect(aggregate.edges.get('e:agent:coder->agent:r1')?.count).toBe(1);
    aggregate.update(messages, 1, room);
    expect(aggregate.edges.get('e:agent:r1->agent:coder')?.count).toBe(1);
    expect(aggregate.edges.has('e:agent:coder->agent:r1')).toBe(false);
  });
});
