/**
 * Who answers whom, for the inspector, the timeline and the graph: each
 * message's replies and each thread's messages, kept as the store grows (ids
 * ascend, so a reply always arrives after the message it answers).
 */
import type { StoredMessage } from '../api/types.js';

/** The root id of a message's reply chain (a message from before threads existed is its own root). */
export function threadOf(message: StoredMessage): number {
  return message.thread ?? message.id;
}

export class ConversationIndex {
  readonly #replies = new Map<number, number[]>();
  readonly #threads = new Map<number, number[]>();

  add(message: StoredMessage): void {
    if (message.inReplyTo !== undefined) push(this.#replies, message.inReplyTo, message.id);
    const thread = threadOf(message);
    // A thread is worth listing once it has a reply; a lone root stays out of the map (most messages are one).
    if (thread !== message.id) {
      if (!this.#threads.has(thread)) this.#threads.set(thread, [thread]);
      (this.#threads.get(thread) as number[]).push(message.id);
    }
  }

  /** Ids of the messages that answer `id`, ascending. */
  repliesTo(id: number): readonly number[] {
    return this.#replies.get(id) ?? [];
  }

  /** Ids of a thread's messages held here, its root first; `[root]` when nothing answered it. */
  thread(root: number): readonly number[] {
    return this.#threads.get(root) ?? [root];
  }

  /** Roots of the threads that have replies, ascending. */
  threadRoots(): number[] {
    return [...this.#threads.keys()].sort((a, b) => a - b);
  }

  clear(): void {
    this.#replies.clear();
    this.#threads.clear();
  }
}

function push(map: Map<number, number[]>, key: number, value: number): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
