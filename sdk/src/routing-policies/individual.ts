import { MessageBusError } from '../core/errors.js';
import type { RoomView, RoutableMessage, RoutingPolicy } from '../core/types.js';

/**
 * `recipients` are agent ids, each of which must be a member of the room:
 * direct messages, to one agent or several.
 *
 * @example
 * ```ts
 * await bus.sendMessage(new Message('alice', 'just for you', ['bob']));
 * ```
 */
export class IndividualRoutingPolicy implements RoutingPolicy {
  readonly name = 'individual';

  route(message: RoutableMessage, room: RoomView): readonly string[] {
    const recipients = message.recipients;
    if (recipients === undefined || recipients.length === 0) {
      throw new MessageBusError('INVALID_MESSAGE', 'individual routing needs recipients: one or more agent ids');
    }
    // An index loop: for-of over the bus's frozen snapshot allocates iterator results on V8.
    for (let i = 0; i < recipients.length; i++) {
      const id = recipients[i] as string;
      if (id.startsWith('#')) {
        throw new MessageBusError('INVALID_MESSAGE', `individual routing takes agent ids; "${id}" names a group (addressed routing)`);
      }
      if (!room.has(id)) {
        throw new MessageBusError('UNKNOWN_RECIPIENT', `recipient "${id}" is not a member of room "${room.id}"`, {
          details: { recipient: id },
        });
      }
    }
    return recipients;
  }
}
