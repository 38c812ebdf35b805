import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  type CallToolResult,
  ErrorCode,
  McpError,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { MessageBusError } from '../core/errors.js';
import { assertId } from '../core/validate.js';
import type { McpBus } from './bus.js';
import { Inbox } from './inbox.js';
import { instructionsFor } from './instructions.js';
import { DEFAULT_IDLE_MS, Presence } from './presence.js';
import { failure } from './results.js';
import { registerTools } from './tools.js';

/** The `version` this package reports as its MCP server (kept equal to package.json by a test). */
export const MCP_SERVER_VERSION = '0.1.0';

/** Options of `createMcpServer`. */
export interface McpServerOptions {
  /** The agent this session acts as. The worker takes it from the token's `sub`; it is never a tool argument. */
  agent: string;
  /**
   * Called before every tool call and resource read with its name; throw a
   * `MessageBusError` (e.g. `RATE_LIMITED`) to refuse it. A refused tool call
   * becomes an `isError` result. The worker counts its rate limit here.
   */
  beforeCall?: (name: string) => void | Promise<void>;
  /** Without a tool call for this long, the agent goes offline (until its next call). Default 5 minutes; 0 never. */
  idleTimeoutMs?: number;
  /** Where background failures go (a subscription that failed, a presence update). Default: `console.error` (stderr). */
  onError?: (error: Error) => void;
  /** `serverInfo.name`. Default `modular-message-bus`. */
  name?: string;
}

/**
 * The room as an MCP server for one agent: the tools `join_room`,
 * `leave_room`, `send_message`, `fetch_messages`, `wait_for_messages`,
 * `ack_messages` and `list_agents`, the resource `room://{room}/inbox` (with
 * `notifications/resources/updated` for subscribers) and `instructions` that
 * tell a model how to take part. Works over any `MessageBus` or
 * `RemoteMessageBus`; connect the result to any MCP transport.
 *
 * The server uses `server.server.onclose` to end the session (the agent goes
 * offline, its subscription stops); it keeps a handler that was set before.
 * `close()` resolves once that is done, so close the bus only after it.
 *
 * @example
 * ```ts
 * import { createMcpServer } from 'modular-message-bus-library/mcp';
 * import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
 *
 * const bus = new MessageBus(new RedisStorageBackend({ url }), new BroadcastRoutingPolicy(), { room: 'lobby' });
 * const server = createMcpServer(bus, { agent: 'alice' });
 * await server.connect(new StdioServerTransport());
 * ```
 */
export function createMcpServer(bus: McpBus, options: McpServerOptions): McpServer {
  if (!bus || typeof bus.sendMessage !== 'function' || typeof bus.subscribe !== 'function') {
    throw new MessageBusError('INVALID_ARGUMENT', 'createMcpServer needs a MessageBus or RemoteMessageBus as its first argument');
  }
  const agent = options?.agent;
  assertId(agent, 'agent id');
  const onError = options.onError ?? ((error: Error) => console.error(`[modular-message-bus] mcp agent=${agent}: ${error.message}`));
  const inboxUri = `room://${bus.room}/inbox`;

  const server = new RoomMcpServer(
    { name: options.name ?? 'modular-message-bus', version: MCP_SERVER_VERSION },
    {
      instructions: instructionsFor(bus.room, agent),
      capabilities: { tools: {}, resources: { subscribe: true } },
    },
  );
  const inbox = new Inbox(bus, agent, onError);
  let subscribed = false;
  const presence = new Presence(bus, agent, options.idleTimeoutMs ?? DEFAULT_IDLE_MS, {
    online: (lastRoutedId) => inbox.start(lastRoutedId),
    // A client listening on the inbox resource still hears of new messages while offline.
    offline: () => {
      if (!subscribed) inbox.stop();
    },
    error: onError,
  });

  const run = async (tool: string, body: () => Promise<CallToolResult>): Promise<CallToolResult> => {
    try {
      await options.beforeCall?.(tool);
      try {
        await presence.begin();
        return await body();
      } finally {
        presence.end();
      }
    } catch (error) {
      return failure(error);
    }
  };
  registerTools(server, { bus, agent, inbox, presence, run });

  server.registerResource(
    'inbox',
    inboxUri,
    {
      title: `${agent}'s inbox in ${bus.room}`,
      description: 'Messages routed to you after your acked cursor, as JSON. Subscribe to hear when it changes.',
      mimeType: 'application/json',
    },
    async (uri) => {
      await options.beforeCall?.('resources/read');
      const messages = await bus.fetchMessages(agent);
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify({ messages }) }] };
    },
  );

  // Coalesced: an arrival while a notification is being sent is covered by it (the client reads after it).
  let notifying = false;
  inbox.onArrival(() => {
    if (!subscribed || notifying) return;
    notifying = true;
    server.server
      .sendResourceUpdated({ uri: inboxUri })
      .catch((error: unknown) => onError(error instanceof Error ? error : new Error(String(error))))
      .finally(() => {
        notifying = false;
      });
  });
  server.server.setRequestHandler(SubscribeRequestSchema, (request) => {
    if (request.params.uri !== inboxUri)
      throw new McpError(ErrorCode.InvalidParams, `no resource ${request.params.uri}: subscribe to ${inboxUri}`);
    subscribed = true;
    inbox.start();
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, (request) => {
    if (request.params.uri === inboxUri) subscribed = false;
    return {};
  });

  const previous = server.server.onclose;
  server.server.onclose = () => {
    subscribed = false;
    inbox.stop();
    server.ended = presence.close();
    previous?.();
  };
  return server;
}

/** An `McpServer` whose `close()` resolves once the session has ended: the agent is offline, its subscription stopped. */
class RoomMcpServer extends McpServer {
  ended: Promise<void> = Promise.resolve();

  override async close(): Promise<void> {
    await super.close();
    await this.ended;
  }
}
