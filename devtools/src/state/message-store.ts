/**
 * Every message of the selected room, in id order, in one array the panels read
 * without copying. Appends bump a version number that React reads through
 * `useSyncExternalStore`, so a burst of 100 messages renders once.
 */
import type { StoredMessage } from '../api/types.js';
import { ConversationIndex } from './conversation.js';

export class MessageStore {
  /** Messages in id order. Only `append` and `reset` change it; readers must not mutate it. */
  readonly messages: StoredMessage[] = [];
  #version = 0;
  readonly #listeners = new Set<() => void>();
  readonly #byId = new Map<number, StoredMessage>();
  /** Replies and threads of the messages held. */
  readonly conversations = new ConversationIndex();

  get version(): number {
    return this.#version;
  }

  get lastId(): number {
    return this.messages.at(-1)?.id ?? 0;
  }

  /** Adds messages newer than the last one held (replays and retries may repeat ids); returns how many were new. */
  append(batch: readonly StoredMessage[]): number {
    let added = 0;
    for (const message of batch) {
      if (message.id <= this.lastId) continue;
      this.messages.push(message);
      this.#byId.set(message.id, message);
      this.conversations.add(message);
      added++;
    }
    if (added > 0) this.#changed();
    return added;
  }

  get(id: number): StoredMessage | undefined {
    return this.#byId.get(id);
  }

  /** Index of the message with this id, or -1 (binary search: ids ascend). */
  indexOf(id: number): number {
    let lo = 0;
    let hi = this.messages.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const value = (this.messages[mid] as StoredMessage).id;
      if (value === id) return mid;
      if (value < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  reset(): void {
    this.messages.length = 0;
    this.#byId.clear();
    this.conversations.clear();
    this.#changed();
  }

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  getVersion = (): number => this.#version;

  #changed(): void {
    this.#version++;
    for (const listener of this.#listeners) listener();
  }
}
