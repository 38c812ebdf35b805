import { MessageBusError } from '../core/errors.js';
import type { RoomView, RoutableMessage, RoutingPolicy } from '../core/types.js';

/**
 * `recipients` are group names; the message goes to every member of any of
 * them, except the sender. Agents join groups through
 * `connectAgent(id, { groups })`, `joinGroup` and `leaveGroup`.
 *
 * @example
 * ```ts
 * await bus.connectAgent('ana', { groups: ['research'] });
 * await bus.sendMessage(new Message('planner', 'find sources', ['research']));
 * ```
 */
export class SubgroupRoutingPolicy implements RoutingPolicy {
  readonly name = 'subgroup';

  route(message: RoutableMessage, room: RoomView): readonly string[] {
    const groups = message.recipients;
    if (groups === undefined || groups.length === 0) {
      throw new MessageBusError('INVALID_MESSAGE', 'subgroup routing needs recipients: one or more group names');
    }
    if (groups.length === 1) return oneGroup(groups[0] as string, message.sender, room);
    const recipients = new Set<string>();
    for (const group of groups) {
      checkGroupName(group);
      for (const id of membersOf(group, room)) if (id !== message.sender) recipients.add(id);
    }
    return [...recipients];
  }
}

// --- internal helpers ---

/**
 * Answers for one group, per room view, group and sender. A view stands for one membership (the bus gets a new
 * one after every join, leave or group change), so an answer stays right for as long as its view is used: a room
 * sending to the same groups expands each once per membership, not once per message. Frozen, so the bus can
 * share the list between messages.
 */
const answers = new WeakMap<RoomView, Map<string, Map<string, readonly string[]>>>();

function oneGroup(group: string, sender: string, room: RoomView): readonly string[] {
  let byGroup = answers.get(room);
  if (!byGroup) answers.set(room, (byGroup = new Map()));
  let bySender = byGroup.get(group);
  const known = bySender?.get(sender);
  if (known) return known;
  checkGroupName(group);
  // The group's members are sorted and unique: without the sender they still are.
  const answer = Object.freeze(membersOf(group, room).filter((id) => id !== sender));
  if (!bySender) byGroup.set(group, (bySender = new Map()));
  bySender.set(sender, answer);
  return answer;
}

function checkGroupName(group: string): void {
  if (group.startsWith('#')) {
    throw new MessageBusError('INVALID_MESSAGE', `subgroup routing takes group names without "#"; write "${group.slice(1)}"`);
  }
}

function membersOf(group: string, room: RoomView): readonly string[] {
  const members = room.groups.get(group);
  if (!members) throw new MessageBusError('UNKNOWN_GROUP', `group "${group}" has no members in room "${room.id}"`, { details: { group } });
  return members;
}
