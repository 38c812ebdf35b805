import { InMemoryStorageBackend } from '../backends/memory/index.js';
import { MessageBus } from '../core/bus.js';
import type { ErrorCode } from '../core/errors.js';
import { Message } from '../core/message.js';
import type { JsonValue, RoutingPolicy } from '../core/types.js';
import { assert, assertEqual, assertRejects, resolveTestApi, type TestApi } from './harness.js';

/** One routing scenario: a room, a message, and who must receive it (or which error it must raise). */
export interface RoutingCase {
  name: string;
  /** Members of the room; `offline: true` members are connected then disconnected. */
  members: Array<{ id: string; groups?: string[]; offline?: boolean }>;
  /** Messages sent before `send`, in order (for stateful policies such as turn-taking). */
  before?: Array<{ sender: string; content?: JsonValue; recipients?: string[] }>;
  send: { sender: string; content?: JsonValue; recipients?: string[] };
  /** Expected recipients (any order), or the error code the send must fail with. */
  expect: string[] | { error: ErrorCode };
}

/** Options of `routingPolicySuite`. */
export interface RoutingSuiteOptions {
  /** A fresh policy per case (policies may keep state). */
  create: () => RoutingPolicy;
  cases: RoutingCase[];
  test?: Partial<TestApi>;
}

/**
 * The routing-policy conformance suite: runs each case through a real
 * `MessageBus`, checks the recipients (or the error), and checks what every
 * policy must do: resolve only to members, record its name and the request in
 * `routing`, and leave nothing stored when it rejects.
 *
 * @example
 * ```ts
 * routingPolicySuite('round-robin', { create: () => roundRobin, cases: [...], test: { describe, it } });
 * ```
 */
export function routingPolicySuite(name: string, options: RoutingSuiteOptions): void {
  const { describe, it } = resolveTestApi(options.test);
  describe(`RoutingPolicy conformance: ${name}`, () => {
    for (const testCase of options.cases) {
      it(testCase.name, async () => {
        const policy = options.create();
        const bus = new MessageBus(new InMemoryStorageBackend(), policy, { room: 'routing-suite', logLevel: 'silent' });
        try {
          for (const member of testCase.members) {
            await bus.connectAgent(member.id, { groups: member.groups ?? [] });
            if (member.offline) await bus.disconnectAgent(member.id);
          }
          for (const earlier of testCase.before ?? []) {
            await bus.sendMessage(new Message(earlier.sender, earlier.content ?? 'before', earlier.recipients));
          }
          const { sender, content = 'hello', recipients } = testCase.send;
          const lastIdBefore = (await bus.storage.getRoom(bus.room)).lastId;
          const expected = testCase.expect;
          if (!Array.isArray(expected)) {
            await assertRejects(bus.sendMessage(new Message(sender, content, recipients)), expected.error, testCase.name);
            assertEqual((await bus.storage.getRoom(bus.room)).lastId, lastIdBefore, 'lastId after a rejected send');
            return;
          }
          const sent = await bus.sendMessage(new Message(sender, content, recipients));
          assertEqual(sent.recipients, [...expected].sort(), 'recipients');
          const members = new Set(testCase.members.map((m) => m.id));
          assert(
            sent.recipients.every((id) => members.has(id)),
            'every recipient is a member',
          );
          assertEqual(sent.routing, { policy: policy.name, requested: recipients ?? null }, 'the routing decision');
          for (const id of expected) {
            const got = await bus.fetchMessages(id, lastIdBefore);
            assertEqual(
              got.map((m) => m.id),
              [sent.id],
              `what ${id} fetches`,
            );
          }
        } finally {
          await bus.close();
        }
      });
    }
  });
}

/** Cases every `BroadcastRoutingPolicy` (default options) passes. */
export const broadcastCases: RoutingCase[] = [
  {
    name: 'broadcast: every member but the sender',
    members: [{ id: 'a' }, { id: 'b' }, { id: 'c', offline: true }],
    send: { sender: 'a' },
    expect: ['b', 'c'],
  },
  { name: 'broadcast: a room of one reaches nobody', members: [{ id: 'a' }], send: { sender: 'a' }, expect: [] },
  {
    name: 'broadcast: recipients are refused',
    members: [{ id: 'a' }, { id: 'b' }],
    send: { sender: 'a', recipients: ['b'] },
    expect: { error: 'INVALID_MESSAGE' },
  },
];

/** Cases every `SubgroupRoutingPolicy` passes. */
export const subgroupCases: RoutingCase[] = [
  {
    name: 'subgroup: the union of the named groups minus the sender',
    members: [{ id: 'a', groups: ['x'] }, { id: 'b', groups: ['x'] }, { id: 'c', groups: ['y'] }, { id: 'd' }],
    send: { sender: 'a', recipients: ['x', 'y'] },
    expect: ['b', 'c'],
  },
  {
    name: 'subgroup: an unknown group',
    members: [{ id: 'a', groups: ['x'] }],
    send: { sender: 'a', recipients: ['nope'] },
    expect: { error: 'UNKNOWN_GROUP' },
  },
  { name: 'subgroup: no groups named', members: [{ id: 'a', groups: ['x'] }], send: { sender: 'a' }, expect: { error: 'INVALID_MESSAGE' } },
];

/** Cases every `IndividualRoutingPolicy` passes. */
export const individualCases: RoutingCase[] = [
  {
    name: 'individual: the named agents',
    members: [{ id: 'a' }, { id: 'b' }, { id: 'c' }],
    send: { sender: 'a', recipients: ['c', 'b', 'c'] },
    expect: ['b', 'c'],
  },
  {
    name: 'individual: to an offline member',
    members: [{ id: 'a' }, { id: 'b', offline: true }],
    send: { sender: 'a', recipients: ['b'] },
    expect: ['b'],
  },
  {
    name: 'individual: an unknown recipient',
    members: [{ id: 'a' }],
    send: { sender: 'a', recipients: ['ghost'] },
    expect: { error: 'UNKNOWN_RECIPIENT' },
  },
  { name: 'individual: no recipients', members: [{ id: 'a' }], send: { sender: 'a' }, expect: { error: 'INVALID_MESSAGE' } },
];
