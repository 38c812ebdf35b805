import {
  type ConnectOptions,
  type Message,
  type MessageBus,
  MessageBusError,
  type MessageHandler,
  type StoredMessage,
  type SubscribeOptions,
} from 'modular-message-bus-library';
import type { McpBus, McpMember } from 'modular-message-bus-library/mcp';
import type { AgentInfo, GroupGrant, Outcome, RoomRpc } from '../contract.js';
import { readSendInput } from '../input.js';

/** What the MCP sessions of a room object use: its RPC (so every limit, presence event and count applies) and its bus. */
export interface RoomAccess {
  rpc: Pick<RoomRpc, 'connectAgent' | 'disconnectAgent' | 'removeAgent' | 'sendMessage' | 'fetchMessages' | 'ackMessages' | 'describe'>;
  /** The room's current bus (a new one after its routing changes). */
  bus(): MessageBus;
  /** How each member connected, for `list_agents`. */
  viaOf(agent: string, sockets: number): string;
  /** A member's presence now belongs to an MCP session (`true`), or no longer does. */
  held(agent: string, online: boolean | null): void;
  /** MAX_CONTENT_DEPTH: the HTTP API's shape rule (input.ts) applies to MCP sends too. */
  maxContentDepth: number;
}

interface LiveSubscription {
  agent: string;
  handler: MessageHandler;
  options: SubscribeOptions;
  delivered: number | undefined;
  stop: () => void;
}

/**
 * The room object as an `McpBus` for one session: every call goes through
 * the object's own RPC methods, so an MCP agent meets exactly the rules of the
 * HTTP API (its token's groups grant, membership limit, rate limit on sends,
 * content size and depth, counted refusals, presence on the events feed).
 * Subscriptions follow the room's bus across a routing change, resuming after
 * the last id they delivered.
 */
export class RoomBus implements McpBus {
  readonly room: string;
  readonly #access: RoomAccess;
  readonly #grant: GroupGrant;
  readonly #live = new Set<LiveSubscription>();

  constructor(room: string, access: RoomAccess, grant: GroupGrant) {
    this.room = room;
    this.#access = access;
    this.#grant = grant;
  }

  async connectAgent(agentId: string, options: ConnectOptions = {}): Promise<AgentInfo> {
    const member = unwrap(await this.#access.rpc.connectAgent(this.room, agentId, options.groups, this.#grant));
    this.#access.held(agentId, true);
    return member;
  }

  async disconnectAgent(agentId: string): Promise<void> {
    unwrap(await this.#access.rpc.disconnectAgent(this.room, agentId));
    this.#access.held(agentId, false);
  }

  async removeAgent(agentId: string): Promise<void> {
    unwrap(await this.#access.rpc.removeAgent(this.room, agentId));
    this.#access.held(agentId, null);
  }

  async sendMessage(message: Message): Promise<StoredMessage> {
    const body = { content: message.content, recipients: message.recipients, idempotencyKey: message.options.idempotencyKey };
    const input = unwrap(readSendInput(body, this.#access.maxContentDepth));
    return unwrap(await this.#access.rpc.sendMessage(this.room, message.sender, input));
  }

  async fetchMessages(agentId: string, lastMessageId?: number, options: { limit?: number } = {}): Promise<StoredMessage[]> {
    return unwrap(await this.#access.rpc.fetchMessages(this.room, agentId, lastMessageId, options.limit));
  }

  async ackMessages(agentId: string, upToId: number): Promise<number> {
    return unwrap(await this.#access.rpc.ackMessages(this.room, agentId, upToId)).cursor;
  }

  async agents(): Promise<McpMember[]> {
    const { members } = unwrap(await this.#access.rpc.describe(this.room));
    return members.map((m) => ({ id: m.id, online: m.online, groups: m.groups, via: this.#access.viaOf(m.id, m.sockets) }));
  }

  subscribe(agentId: string, handler: MessageHandler, options: SubscribeOptions = {}): () => void {
    const live: LiveSubscription = { agent: agentId, handler, options, delivered: options.after, stop: () => {} };
    this.#live.add(live);
    this.#attach(live);
    return () => {
      this.#live.delete(live);
      live.stop();
    };
  }

  /** The room's bus was replaced (its routing changed): move every live subscription onto the new one. */
  rebind(): void {
    for (const live of this.#live) {
      live.stop();
      this.#attach(live);
    }
  }

  #attach(live: LiveSubscription): void {
    const options: SubscribeOptions = { ...live.options };
    if (live.delivered !== undefined) options.after = live.delivered;
    live.stop = this.#access.bus().subscribe(
      live.agent,
      (message) => {
        live.delivered = message.id;
        return live.handler(message);
      },
      options,
    );
  }
}

/** The value of an RPC outcome, or its refusal thrown as the `MessageBusError` it was. */
function unwrap<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.value;
  const { code, message, ...details } = outcome.error;
  throw new MessageBusError(code, message, { details });
}
