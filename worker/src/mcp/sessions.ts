import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { type MessageBus, MessageBusError } from 'modular-message-bus-library';
import { createMcpServer } from 'modular-message-bus-library/mcp';
import type { GroupGrant, LimitName, RoomRpc } from '../contract.js';
import type { Limits } from '../env.js';
import { errorResponse, fail } from '../errors.js';
import { McpPresenceTable } from './presence-table.js';
import { RoomBus } from './room-bus.js';

/** What the room object lends its MCP sessions. */
export interface McpRoomParts {
  sql: SqlStorage;
  limits: Limits;
  rpc: ConstructorParameters<typeof RoomBus>[1]['rpc'] & Pick<RoomRpc, 'disconnectAgent'>;
  bus(): MessageBus;
  /** Takes one request from the agent's rate limit: 0 when allowed, else seconds until allowed. */
  takeToken(agent: string): number;
  countLimit(limit: LimitName): void;
}

interface Session {
  agent: string;
  transport: WebStandardStreamableHTTPServerTransport;
  close(): Promise<void>;
  lastSeen: number;
}

/** A session with no request for this long is closed (its agent went offline long before, after 5 minutes). */
const SESSION_TTL_MS = 30 * 60_000;

/**
 * The room's MCP endpoint, held by its room object: one stateful Streamable
 * HTTP session per MCP client, kept in the object's memory, each serving
 * `createMcpServer` for the token's agent over the room's own RPC. A session
 * is bound to the agent that opened it. Sessions end with a `DELETE`, after
 * `SESSION_TTL_MS` unused, or when the object restarts; an agent whose session
 * was lost that way is taken offline when the object starts again.
 */
export class McpRoom {
  readonly #parts: McpRoomParts;
  readonly #sessions = new Map<string, Session>();
  readonly #table: McpPresenceTable;
  /** One bus per session (it carries the session token's groups grant); all move to a new room bus together. */
  readonly #buses = new Set<RoomBus>();

  constructor(parts: McpRoomParts) {
    this.#parts = parts;
    this.#table = new McpPresenceTable(parts.sql);
  }

  /** How `agent` connected, as the room API reports it: `mcp`, `websocket` or `http`. */
  viaOf(agent: string, sockets: number): 'mcp' | 'websocket' | 'http' {
    const held = this.#table.get(agent);
    if (held === true) return 'mcp';
    if (sockets > 0) return 'websocket';
    return held === false ? 'mcp' : 'http';
  }

  /** The object (re)started: no session survived it, so the agents they held online go offline. */
  async recover(room: string): Promise<void> {
    for (const agent of this.#table.online()) {
      const outcome = await this.#parts.rpc.disconnectAgent(room, agent);
      if (!outcome.ok && outcome.error.code !== 'UNKNOWN_AGENT')
        console.warn(`[mmb-worker] mcp: could not take ${agent} offline:`, outcome.error);
      this.#table.set(agent, outcome.ok ? false : null);
    }
  }

  /** The room's bus was replaced (routing changed). */
  rebind(): void {
    for (const bus of this.#buses) bus.rebind();
  }

  /**
   * Answers one Streamable HTTP request of `agent` (the token's `sub`, checked
   * by the worker, which also sends the token's groups grant as `x-mmb-grant`).
   */
  async handle(request: Request, room: string, agent: string): Promise<Response> {
    const id = request.headers.get('mcp-session-id');
    if (id !== null) {
      const session = this.#sessions.get(id);
      if (!session) return sessionGone();
      if (session.agent !== agent) {
        return errorResponse(fail('FORBIDDEN', `this MCP session belongs to another agent: agent "${agent}" must open its own session`));
      }
      session.lastSeen = Date.now();
      return session.transport.handleRequest(request);
    }
    if (request.method !== 'POST') return missingSession();
    this.#sweep();
    if (this.#sessions.size >= this.#parts.limits.maxSocketsPerRoom) {
      this.#parts.countLimit('sockets');
      return errorResponse(
        fail('ROOM_FULL', `room "${room}" has ${this.#sessions.size} MCP sessions, its limit (MAX_SOCKETS_PER_ROOM): try again later`),
      );
    }
    return this.#open(request, room, agent);
  }

  async #open(request: Request, room: string, agent: string): Promise<Response> {
    const access = {
      rpc: this.#parts.rpc,
      bus: () => this.#parts.bus(),
      viaOf: (member: string, sockets: number) => this.viaOf(member, sockets),
      held: (member: string, online: boolean | null) => this.#table.set(member, online),
      maxContentDepth: this.#parts.limits.maxContentDepth,
    };
    const bus = new RoomBus(room, access, grantFrom(request.headers.get('x-mmb-grant')));
    const server = createMcpServer(bus, {
      agent,
      // send_message is counted by the room's send path itself: each tool call takes exactly one token.
      beforeCall: (name) => (name === 'send_message' ? undefined : this.#rateLimit(agent)),
      onError: (error) => console.warn(`[mmb-worker] mcp room=${room} agent=${agent}: ${error.message}`),
    });
    let session: Session | undefined;
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => crypto.randomUUID(),
      maxRequestBodySize: this.#parts.limits.maxBodyBytes,
      onsessioninitialized: (sessionId) => {
        session = { agent, transport, close: () => server.close(), lastSeen: Date.now() };
        this.#sessions.set(sessionId, session);
        this.#buses.add(bus);
      },
      onsessionclosed: (sessionId) => {
        this.#sessions.delete(sessionId);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId !== undefined) this.#sessions.delete(transport.sessionId);
      this.#buses.delete(bus);
    };
    await server.connect(transport);
    const response = await transport.handleRequest(request);
    // Anything but a valid initialize request opens no session: drop the server made for it.
    if (session === undefined) await server.close();
    return response;
  }

  #rateLimit(agent: string): void {
    const retryAfter = this.#parts.takeToken(agent);
    if (retryAfter === 0) return;
    this.#parts.countLimit('rate');
    throw new MessageBusError(
      'RATE_LIMITED',
      `agent "${agent}" makes more than ${this.#parts.limits.ratePerSecond} requests per second (RATE_LIMIT_PER_SECOND): retry after ${retryAfter} s`,
      { details: { retryAfter } },
    );
  }

  /** Closes sessions nobody has used for `SESSION_TTL_MS`. */
  #sweep(): void {
    const stale = Date.now() - SESSION_TTL_MS;
    for (const [id, session] of this.#sessions) {
      if (session.lastSeen >= stale) continue;
      this.#sessions.delete(id);
      void session.close();
    }
  }
}

/** The token's groups grant as the worker forwarded it; anything unreadable grants nothing. */
function grantFrom(header: string | null): GroupGrant {
  if (header === null) return null;
  try {
    const grant = JSON.parse(header) as unknown;
    if (grant === '*') return '*';
    if (Array.isArray(grant) && grant.every((g) => typeof g === 'string')) return grant;
  } catch {
    // Refused below: no grant.
  }
  return null;
}

/** 404 for an unknown or ended session: the Streamable HTTP spec's signal to initialize a new one. */
function sessionGone(): Response {
  return rpcError(404, -32001, 'Session not found: it ended or the room restarted; send a new initialize request without Mcp-Session-Id');
}

function missingSession(): Response {
  return rpcError(400, -32000, 'Bad Request: send the Mcp-Session-Id header of your session (POST an initialize request to open one)');
}

function rpcError(status: number, code: number, message: string): Response {
  return new Response(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}
