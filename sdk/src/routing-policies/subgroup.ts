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

  route(message: RoutableMessage, room: RoomView): string[] {
    const groups = message.recipients;
    if (groups === undefined || groups.length === 0) {
      throw new MessageBusError('INVALID_MESSAGE', 'subgroup routing needs recipients: one or more group names');
    }
    const recipients = new Set<string>();
    for (const group of groups) {
      if (group.startsWith('#')) {
        throw new MessageBusError('INVALID_MESSAGE', `subgroup routing takes group names without "#"; write "${group.slice(1)}"`);
      }
      const members = room.groups.get(group);
      if (!members)
        throw new MessageBusError('UNKNOWN_GROUP', `group "${group}" has no members in room "${room.id}"`, { details: { group } });
      for (const id of members) if (id !== message.sender) recipients.add(id);
    }
    return [...recipients];
  }
}
