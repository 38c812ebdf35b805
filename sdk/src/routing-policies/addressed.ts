import { MessageBusError } from '../core/errors.js';
import type { RoomView, RoutableMessage, RouteResult, RoutingPolicy } from '../core/types.js';

/**
 * Each message says whom it is for, so one room mixes direct, group and
 * all-hands messages: the natural policy for a room of agents. `recipients`
 * absent means every member but the sender; otherwise each entry is an agent
 * id or `#group` (`#` is outside the id alphabet, so it cannot be an agent),
 * and the message goes to their union, minus the sender. An unknown agent is
 * `UNKNOWN_RECIPIENT`; an unknown or empty group is `UNKNOWN_GROUP`.
 *
 * @example
 * ```ts
 * const bus = new MessageBus(new InMemoryStorageBackend(), new AddressedRoutingPolicy(), { room: 'crew' });
 * await bus.sendMessage(new Message('critic', 'looks good', ['coder', '#research'])); // coder and the research group
 * await bus.sendMessage(new Message('planner', 'stand-up in 5')); // everyone but the planner
 * ```
 */
export class AddressedRoutingPolicy implements RoutingPolicy {
  readonly name = 'addressed';

  route(message: RoutableMessage, room: RoomView): RouteResult {
    const entries = message.recipients;
    if (entries === undefined) return EVERYONE_BUT_SENDER;
    if (entries.length === 0) {
      throw new MessageBusError('INVALID_MESSAGE', 'addressed routing needs agents or #groups in recipients, or none at all for everyone');
    }
    const recipients = new Set<string>();
    // An index loop: for-of over the bus's frozen snapshot allocates iterator results on V8.
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as string;
      const ids = entry.startsWith('#') ? groupMembers(entry.slice(1), room) : [agent(entry, room)];
      for (const id of ids) if (id !== message.sender) recipients.add(id);
    }
    return [...recipients];
  }
}

// --- internal helpers ---

const EVERYONE_BUT_SENDER = Object.freeze({ audience: 'members-except-sender' as const });

function agent(id: string, room: RoomView): string {
  if (!room.has(id)) {
    throw new MessageBusError('UNKNOWN_RECIPIENT', `recipient "${id}" is not a member of room "${room.id}" (name a group as "#${id}")`, {
      details: { recipient: id },
    });
  }
  return id;
}

function groupMembers(group: string, room: RoomView): readonly string[] {
  const members = room.groups.get(group);
  if (!members || members.length === 0) {
    throw new MessageBusError('UNKNOWN_GROUP', `group "${group}" has no members in room "${room.id}"`, { details: { group } });
  }
  return members;
}
