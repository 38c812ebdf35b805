import type { StoredMessage } from 'modular-message-bus-library';
import { describe, expect, it } from 'vitest';
import { EVERYONE, FlowAggregate, targetsOf } from './graph-model.js';

const room = { memberIds: new Set(['planner', 'r1', 'r2', 'coder']), groupNames: new Set(['research']) };
const message = (id: number, sender: string, recipients: string[], requested: string[] | null, inReplyTo?: number): StoredMessage => ({
  id,
  room: 'lab',
  timestamp: id,
  sender,
  content: null,
  recipients,
  routing: { policy: requested ? 'subgroup' : 'broadcast', requested },
  thread: id,
  ...(inReplyTo === undefined ? {} : { inReplyTo }),
});

describe('flow graph model', () => {
  it('draws a room-wide message to the everyone node, a group message to the group, a direct one to the agent', () => {
    expect(targetsOf(message(1, 'planner', ['coder', 'r1', 'r2'], null), room)).toEqual([EVERYONE]);
    expect(targetsOf(message(2, 'planner', ['r1', 'r2'], ['research']), room)).toEqual(['group:research']);
    expect(targetsOf(message(3, 'r1', ['coder'], ['coder']), room)).toEqual(['agent:coder']);
  });

  it('draws an addressed message to each agent and #group it names', () => {
    expect(targetsOf(message(4, 'planner', ['coder', 'r1', 'r2'], ['coder', '#research']), room)).toEqual([
      'agent:coder',
      'group:research',
    ]);
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

  it('pairs a request with its answer: a reply edge from who answered back to who asked', () => {
    const messages = [
      message(1, 'planner', ['r1'], ['r1']),
      message(2, 'r1', ['planner'], ['planner'], 1),
      message(3, 'planner', ['r1'], ['r1']),
      message(4, 'r1', ['planner'], ['planner'], 3),
      message(5, 'r2', ['coder'], ['coder'], 999), // answers a message not loaded: no reply edge
      message(6, 'planner', ['r1'], ['r1'], 1), // the asker following up on its own question: no reply edge
    ];
    const aggregate = new FlowAggregate();
    aggregate.update(messages, messages.length, room);
    const reply = aggregate.edges.get('r:agent:r1->agent:planner');
    expect(reply).toMatchObject({ kind: 'reply', source: 'agent:r1', target: 'agent:planner', count: 2, lastId: 4 });
    expect(aggregate.edges.get('e:agent:planner->agent:r1')).toMatchObject({ kind: 'message', count: 3 });
    expect([...aggregate.edges.values()].filter((e) => e.kind === 'reply')).toHaveLength(1);
    // Replay to before the first answer: the pair is not there yet.
    aggregate.update(messages, 1, room);
    expect(aggregate.edges.has('r:agent:r1->agent:planner')).toBe(false);
  });
});
