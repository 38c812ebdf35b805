/**
 * The parts of the SDK a differential run drives, passed in rather than
 * imported: the SDK's own tests pass its sources (`sdk-sources.ts`), the
 * workerd tests the built package, so this folder imports only types.
 */
import type { JsonValue, RoutingPolicy, StorageBackend, StoredMessage } from '../../../src/core/types.js';

/** What the harness uses of a `MessageBus`. */
export interface BusLike {
  readonly storage: StorageBackend;
  connectAgent(agentId: string, options?: { groups?: string[] }): Promise<unknown>;
  disconnectAgent(agentId: string): Promise<void>;
  removeAgent(agentId: string): Promise<void>;
  joinGroup(agentId: string, group: string): Promise<string[]>;
  leaveGroup(agentId: string, group: string): Promise<string[]>;
  sendMessage(message: never): Promise<StoredMessage>;
  fetchMessages(agentId: string, lastMessageId?: number, options?: { limit?: number }): Promise<StoredMessage[]>;
  history(after?: number, options?: { limit?: number }): Promise<StoredMessage[]>;
  ackMessages(agentId: string, upToId: number): Promise<number>;
  agents(): Promise<unknown[]>;
  subscribe(agentId: string, handler: (message: StoredMessage) => void, options?: { after?: number }): () => void;
  close(): Promise<void>;
}

export interface BusOptionsLike {
  room: string;
  closeStorage: boolean;
  now: () => number;
  logLevel: 'silent';
  maxContentBytes: number;
}

/** The SDK as a run needs it. */
export interface Sdk {
  MessageBus: new (storage: StorageBackend, policy: RoutingPolicy, options: BusOptionsLike) => BusLike;
  Message: new (sender: string, content: JsonValue, recipients?: readonly string[], options?: { idempotencyKey?: string }) => unknown;
  MessageBusError: { is(value: unknown): value is Error & { code: string; details: Record<string, unknown> } };
  BroadcastRoutingPolicy: new (options?: { includeSender?: boolean }) => RoutingPolicy;
  SubgroupRoutingPolicy: new () => RoutingPolicy;
  IndividualRoutingPolicy: new () => RoutingPolicy;
}
