/** What the inspector shows of a message's conversation: what it answers, its thread, its replies. */
import type { StoredMessage } from '../api/types.js';
import type { ConversationIndex } from '../state/conversation.js';
import { threadOf } from '../state/conversation.js';

/** The store's lookups the facts need (the `MessageStore` provides both). */
export interface ConversationSource {
  get(id: number): StoredMessage | undefined;
  readonly conversations: ConversationIndex;
}

export interface ConversationFacts {
  /** The message answered, `null` when it is not held here (trimmed by retention, or before the loaded history). */
  parent: { id: number; message: StoredMessage | null } | null;
  /** Root id of the reply chain. */
  thread: number;
  /** Messages of the thread held here, the root included. */
  threadSize: number;
  /** Replies held here, ascending. */
  replies: StoredMessage[];
}

export function conversationFacts(message: StoredMessage, source: ConversationSource): ConversationFacts {
  const thread = threadOf(message);
  const replies: StoredMessage[] = [];
  for (const id of source.conversations.repliesTo(message.id)) {
    const reply = source.get(id);
    if (reply) replies.push(reply);
  }
  return {
    parent: message.inReplyTo === undefined ? null : { id: message.inReplyTo, message: source.get(message.inReplyTo) ?? null },
    thread,
    threadSize: source.conversations.thread(thread).length,
    replies,
  };
}
