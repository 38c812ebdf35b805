import { MessageBusError } from '../core/errors.js';
import type { RoutableMessage, RouteResult, RoutingPolicy } from '../core/types.js';

/** Options of `BroadcastRoutingPolicy`. */
export interface BroadcastOptions {
  /** Deliver the sender's own messages to it too. Default `false`. */
  includeSender?: boolean;
}

/**
 * Every member of the room receives every message (the sender only with
 * `includeSender`). Messages must not name recipients. The audience is stored
 * once per message, not once per recipient.
 *
 * @example
 * ```ts
 * const bus = new MessageBus(new InMemoryStorageBackend(), new BroadcastRoutingPolicy({ includeSender: true }));
 * ```
 */
export class BroadcastRoutingPolicy implements RoutingPolicy {
  readonly name = 'broadcast';
  readonly includeSender: boolean;

  constructor(options: BroadcastOptions = {}) {
    this.includeSender = options.includeSender ?? false;
  }

  route(message: RoutableMessage): RouteResult {
    if (message.recipients !== undefined) {
      throw new MessageBusError('INVALID_MESSAGE', 'this room broadcasts to every member: send without recipients');
    }
    return this.includeSender ? EVERYONE : EVERYONE_BUT_SENDER;
  }
}

// One answer object each, not one per message.
const EVERYONE = Object.freeze({ audience: 'members' as const });
const EVERYONE_BUT_SENDER = Object.freeze({ audience: 'members-except-sender' as const });
