import type { JsonValue, MessageMetadata } from './types.js';

/** Options of a `Message`. */
export interface MessageOptions {
  /**
   * Makes a send safe to retry: a second send with the same key from the same
   * sender returns the message stored the first time and stores nothing new.
   * 1-256 characters.
   */
  idempotencyKey?: string;
  /**
   * The id of the earlier message this one answers. It must be one the sender
   * sent, or one routed to its current membership, in the same room; anything
   * else is refused with `INVALID_ARGUMENT` and nothing is stored.
   */
  inReplyTo?: number;
  /**
   * A plain JSON object for programs (`{ kind: 'tool_call' }`): stored and
   * returned as it is, and seen by routing policies. At most
   * `maxMetadataBytes` of UTF-8 JSON (default 4 KiB).
   */
  metadata?: MessageMetadata;
}

/**
 * A message to send: who sends it, what it says, and whom it asks for. What
 * `recipients` means is up to the room's routing policy (agent ids for
 * individual routing, group names for subgroup routing, agents and `#groups`
 * for addressed routing, absent for broadcast).
 *
 * @example
 * ```ts
 * await bus.sendMessage(new Message('alice', { text: 'hi' }, ['bob'], { idempotencyKey: 'alice-42' }));
 * // An answer to message 7, marked for programs:
 * await bus.sendMessage(new Message('bob', 'found it', ['alice'], { inReplyTo: 7, metadata: { kind: 'answer' } }));
 * ```
 */
export class Message {
  readonly sender: string;
  readonly content: JsonValue;
  readonly recipients: readonly string[] | undefined;
  readonly options: Readonly<MessageOptions>;

  constructor(sender: string, content: JsonValue, recipients?: readonly string[], options: MessageOptions = {}) {
    this.sender = sender;
    this.content = content;
    this.recipients = recipients;
    this.options = options;
  }
}

/**
 * @internal One message kept for the life of the process. A `Message` gets its fields one by one, each a step to another
 * hidden class that only instances keep alive; callers drop their messages once sent, so without this one a full
 * GC in a quiet moment would end those classes and the optimised send path compiled against them with them.
 */
export const KEPT_MESSAGE_SHAPE = new Message('', null);
