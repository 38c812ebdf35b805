/**
 * The messages appended last, by `id % size`: what live subscribers fetch
 * right after a send, answered without reading the log. Older ids fall out as
 * newer ones take their slot.
 */
import type { StoredMessage } from '../../core/types.js';

export class RecentMessages {
  readonly #slots: (StoredMessage | undefined)[];

  constructor(size = 4096) {
    this.#slots = new Array(size);
  }

  remember(message: StoredMessage): void {
    this.#slots[message.id % this.#slots.length] = message;
  }

  get(id: number): StoredMessage | undefined {
    const message = this.#slots[id % this.#slots.length];
    return message?.id === id ? message : undefined;
  }

  /** Drops `id` (trimmed by retention) if it is still held. */
  forget(id: number): void {
    if (this.get(id)) this.#slots[id % this.#slots.length] = undefined;
  }
}
