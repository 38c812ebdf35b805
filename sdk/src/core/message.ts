import type { JsonValue } from './types.js';

/** Options of a `Message`. */
export interface MessageOptions {
  /**
   * Makes a send safe to retry: a second send with the same key from the same
   * sender returns the message stored the first time and stores nothing new.
   * 1-256 characters.
   */
  idempotencyKey?: string;
}

/**
 * A message to send: who sends it, what it says, and whom it asks for. What
 * `recipients` means is up to the room's routing policy (agent ids for
 * individual routing, group names for subgroup routing, absent for broadcast).
 *
 * @example
 * ```ts
 * await bus.sendMessage(new Message('alice', { text: 'hi' }, ['bob'], { idempotencyKey: 'alice-42' }));
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
