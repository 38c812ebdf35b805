import type { ConnectOptions } from '../core/bus.js';
import type { Message } from '../core/message.js';
import type { MessageHandler, SubscribeOptions } from '../core/subscription.js';
import type { MemberState, StoredMessage } from '../core/types.js';

/** A member as the MCP tools report it. `via` says how it connected, where the bus knows (the worker does). */
export interface McpMember {
  id: string;
  online: boolean;
  groups: readonly string[];
  via?: string;
}

/**
 * What the MCP tool set needs from a bus: the part of the API that
 * `MessageBus` and `RemoteMessageBus` share, so one tool set serves an
 * in-process bus, a Redis room and a deployed worker alike.
 */
export interface McpBus {
  readonly room: string;
  connectAgent(agentId: string, options?: ConnectOptions): Promise<Pick<MemberState, 'id' | 'online' | 'groups' | 'lastRoutedId'>>;
  disconnectAgent(agentId: string): Promise<void>;
  removeAgent(agentId: string): Promise<void>;
  sendMessage(message: Message): Promise<StoredMessage>;
  fetchMessages(agentId: string, lastMessageId?: number, options?: { limit?: number }): Promise<StoredMessage[]>;
  ackMessages(agentId: string, upToId: number): Promise<number>;
  agents(): Promise<readonly McpMember[]>;
  subscribe(agentId: string, handler: MessageHandler, options?: SubscribeOptions): () => void;
}
