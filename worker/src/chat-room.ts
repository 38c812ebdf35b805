import { DurableObject } from 'cloudflare:workers';
import {
  type Counter,
  Message,
  MessageBus,
  MessageBusError,
  type MessageOptions,
  MetricsRegistry,
  type RoutingPolicy,
} from 'modular-message-bus-library';
import { DurableObjectStorageBackend } from 'modular-message-bus-library/backends';
import {
  AddressedRoutingPolicy,
  BroadcastRoutingPolicy,
  IndividualRoutingPolicy,
  SubgroupRoutingPolicy,
} from 'modular-message-bus-library/routing-policies';
import type {
  AckResponse,
  AgentInfo,
  DisconnectResponse,
  ErrorBody,
  GroupGrant,
  GroupsResponse,
  LimitName,
  Outcome,
  PresenceReason,
  RemoveResponse,
  RoomRpc,
  RoomSummary,
  RoomView,
  RoutingResponse,
  SendInput,
  ServerFrame,
  StoredMessage,
} from './contract.js';
import { type Env, type Limits, limitsOf } from './env.js';
import { errorOf, fail, toErrorBody } from './errors.js';
import { answerFrame, type FrameActions } from './frames.js';
import { refuseGroupChange, refuseGroupCount } from './group-grant.js';
import { readDecimal } from './input.js';
import { McpRoom } from './mcp/sessions.js';
import { TokenBuckets } from './rate-limit.js';
import { RoomMeta } from './room-meta.js';
import { RoomStreams } from './room-streams.js';
import { SocketTurns } from './socket-turns.js';
import { type SocketAttachment, SocketHub } from './sockets.js';
import { directoryOf } from './stubs.js';

/** Options of `createChatRoom`. */
export interface ChatRoomOptions {
  /**
   * Routing policies a room may be configured with (`PUT /v1/rooms/:room`),
   * by name, added to (or replacing) the built-in `broadcast`, `subgroup`,
   * `individual` and `addressed`. The `DEFAULT_ROUTING` var may name one of them.
   */
  routing?: Record<string, () => RoutingPolicy>;
}

const BUILT_IN: Record<string, () => RoutingPolicy> = {
  broadcast: () => new BroadcastRoutingPolicy(),
  subgroup: () => new SubgroupRoutingPolicy(),
  individual: () => new IndividualRoutingPolicy(),
  addressed: () => new AddressedRoutingPolicy(),
};

/**
 * Builds the `ChatRoom` Durable Object class: one object per chatroom, a
 * `MessageBus` over `DurableObjectStorageBackend`, hibernatable WebSockets,
 * per-agent rate limits and room limits. Export the result from your worker
 * under the class name bound in wrangler.toml.
 *
 * @example
 * ```ts
 * import { createApp, createChatRoom, RoomDirectory } from 'modular-message-bus-worker';
 * export const ChatRoom = createChatRoom({ routing: { 'round-robin': () => new RoundRobinPolicy() } });
 * export { RoomDirectory };
 * export default createApp();
 * ```
 */
export function createChatRoom(options: ChatRoomOptions = {}): typeof ChatRoomBase {
  const policies = { ...BUILT_IN, ...options.routing };
  return class ChatRoom extends ChatRoomBase {
    protected override policies(): Record<string, () => RoutingPolicy> {
      return policies;
    }
  };
}

/** The room object; use `createChatRoom()` (or the `ChatRoom` export) rather than this base. */
export class ChatRoomBase extends DurableObject<Env> implements RoomRpc {
  readonly #limits: Limits;
  readonly #backend: DurableObjectStorageBackend;
  readonly #meta: RoomMeta;
  readonly #registry = new MetricsRegistry();
  readonly #limitRejections: Counter;
  readonly #buckets: TokenBuckets;
  readonly #sockets: SocketHub;
  readonly #mcp: McpRoom;
  readonly #streams: RoomStreams;
  /** Socket events in arrival order, those of one turn together: their writes share a commit (socket-turns.ts). */
  readonly #turns = new SocketTurns();
  #bus: MessageBus | undefined;
  #room: string | undefined;
  #routing: string;
  readonly #startedAt = Date.now();
  /** What socket frames may do (frames.ts), made once: no closures per frame. */
  readonly #frameActions: FrameActions = {
    send: (room, agent, input) => this.sendMessage(room, agent, input),
    ack: (room, agent, upTo) => this.ackMessages(room, agent, upTo),
    countLimit: (limit) => this.#countLimit(limit),
    streams: {
      start: (room, agent, input) => this.#run(room, () => this.#streams.start(agent, input)),
      write: (agent, streamId, seq, text) => {
        try {
          this.#streams.write(agent, streamId, seq, text);
          return { ok: true, value: undefined };
        } catch (error) {
          return { ok: false, error: toErrorBody(error) };
        }
      },
      end: (room, agent, streamId, seq, content) => this.#run(room, () => this.#streams.end(agent, streamId, seq, content)),
      abort: (room, agent, streamId, reason) => this.#run(room, () => this.#streams.abort(agent, streamId, reason)),
    },
  };

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#limits = limitsOf(env);
    this.#backend = new DurableObjectStorageBackend(ctx.storage, { maxMessages: this.#limits.maxMessagesPerRoom });
    this.#limitRejections = this.#registry.counter('mmb_limit_rejections_total', 'Requests refused by a configured limit, by limit.');
    const socketsGauge = this.#registry.gauge('mmb_websockets_open', 'Open WebSockets of the room, by kind.');
    this.#registry.addCollector(() => {
      if (this.#room === undefined) return;
      const open = this.#sockets.open();
      const count = (kind: string) => open.filter((ws) => this.#sockets.attachmentOf(ws)?.kind === kind).length;
      for (const kind of ['agent', 'watch', 'stream', 'events']) socketsGauge.set({ room: this.#room, kind }, count(kind));
    });
    this.#buckets = new TokenBuckets(this.#limits.ratePerSecond, this.#limits.rateBurst);
    this.#meta = new RoomMeta(ctx.storage.sql);
    this.#mcp = new McpRoom({
      sql: ctx.storage.sql,
      limits: this.#limits,
      rpc: this,
      bus: () => this.#bus as MessageBus,
      takeToken: (agent) => this.#buckets.take(agent),
      countLimit: (limit) => this.#countLimit(limit),
    });
    this.#routing = this.#meta.routing ?? this.#defaultRouting();
    this.#sockets = new SocketHub(ctx, () => this.#backend);
    // Before the bus: a new instance first tells the sockets that outlived the last one what it lost.
    this.#streams = new RoomStreams(ctx, this.#sockets, this.#limits, (limit) => this.#countLimit(limit));
    const room = this.#meta.room;
    if (room !== undefined) this.#open(room);
    // MCP sessions live in memory: those of the previous instance are gone, and so is their agents' presence.
    if (room !== undefined) void ctx.blockConcurrencyWhile(() => this.#mcp.recover(room));
  }

  /** Policies by name; `createChatRoom` overrides this. */
  protected policies(): Record<string, () => RoutingPolicy> {
    return BUILT_IN;
  }

  // --- RPC methods called by the worker (RoomRpc in contract.ts; errors travel as data) ---

  connectAgent(room: string, agent: string, groups: string[] | undefined, grant: GroupGrant): Promise<Outcome<AgentInfo>> {
    return this.#run(room, async (bus) => {
      const members = await bus.storage.getMembers(room);
      const existing = members.find((m) => m.id === agent);
      if (!existing && members.length >= this.#limits.maxMembersPerRoom) {
        this.#countLimit('members');
        throw new MessageBusError('ROOM_FULL', `room "${room}" has ${members.length} members, its limit (MAX_MEMBERS_PER_ROOM)`);
      }
      if (groups !== undefined) this.#checkGroups(grant, existing?.groups ?? [], groups);
      const member = await bus.connectAgent(agent, groups === undefined ? {} : { groups });
      await this.#register(room);
      this.#presence(agent, true, member.groups, 'connect');
      return { ...member, lag: Math.max(0, member.lastRoutedId - member.cursor) };
    });
  }

  disconnectAgent(room: string, agent: string): Promise<Outcome<DisconnectResponse>> {
    return this.#run(room, async (bus) => {
      await bus.disconnectAgent(agent);
      this.#presence(agent, false, undefined, 'disconnect');
      return { agent, online: false };
    });
  }

  removeAgent(room: string, agent: string): Promise<Outcome<RemoveResponse>> {
    return this.#run(room, async (bus) => {
      await bus.removeAgent(agent);
      for (const ws of this.#sockets.open(agent)) {
        this.#sockets.refuse(ws, fail('UNKNOWN_AGENT', `agent "${agent}" was removed from room "${room}"`));
      }
      this.#presence(agent, false, undefined, 'removed');
      return { agent, removed: true };
    });
  }

  joinGroup(room: string, agent: string, group: string, grant: GroupGrant): Promise<Outcome<GroupsResponse>> {
    return this.#changeGroups(
      room,
      agent,
      grant,
      (groups) => [...groups, group],
      (bus) => bus.joinGroup(agent, group),
    );
  }

  leaveGroup(room: string, agent: string, group: string, grant: GroupGrant): Promise<Outcome<GroupsResponse>> {
    return this.#changeGroups(
      room,
      agent,
      grant,
      (groups) => groups.filter((g) => g !== group),
      (bus) => bus.leaveGroup(agent, group),
    );
  }

  sendMessage(room: string, sender: string, input: SendInput): Promise<Outcome<StoredMessage>> {
    return this.#run(room, (bus) => this.#send(bus, sender, input));
  }

  fetchMessages(room: string, agent: string, after: number | undefined, limit: number | undefined): Promise<Outcome<StoredMessage[]>> {
    return this.#run(room, (bus) => bus.fetchMessages(agent, after, limit === undefined ? {} : { limit }));
  }

  fetchThread(
    room: string,
    agent: string,
    thread: number,
    after: number | undefined,
    limit: number | undefined,
  ): Promise<Outcome<StoredMessage[]>> {
    return this.#run(room, (bus) =>
      bus.fetchThread(agent, thread, { ...(after === undefined ? {} : { after }), ...(limit === undefined ? {} : { limit }) }),
    );
  }

  fetchLatest(room: string, agent: string, before: number | undefined, limit: number | undefined): Promise<Outcome<StoredMessage[]>> {
    return this.#run(room, (bus) =>
      bus.fetchLatest(agent, { ...(before === undefined ? {} : { before }), ...(limit === undefined ? {} : { limit }) }),
    );
  }

  ackMessages(room: string, agent: string, upTo: number): Promise<Outcome<AckResponse>> {
    return this.#run(room, async (bus) => ({ agent, cursor: await bus.ackMessages(agent, upTo) }));
  }

  history(room: string, after: number, limit: number | undefined): Promise<Outcome<StoredMessage[]>> {
    return this.#run(room, (bus) => bus.history(after, limit === undefined ? {} : { limit }));
  }

  configure(room: string, routing: string): Promise<Outcome<RoutingResponse>> {
    return this.#run(room, async () => {
      const names = Object.keys(this.policies());
      if (!names.includes(routing)) {
        throw new MessageBusError('INVALID_ARGUMENT', `routing must be one of ${names.map((n) => `"${n}"`).join(', ')}`);
      }
      this.#meta.routing = routing;
      this.#routing = routing;
      await this.#bus?.close();
      this.#open(room);
      await this.#register(room);
      this.#event({ type: 'config', routing, at: Date.now() });
      return { room, routing };
    });
  }

  describe(room: string): Promise<Outcome<RoomView>> {
    return this.#run(room, async (bus) => {
      const [agents, snapshot] = await Promise.all([bus.agents(), bus.storage.getRoom(room)]);
      const members = agents.map((m) => {
        const sockets = this.#sockets.open(m.id).length;
        return { ...m, sockets, via: this.#mcp.viaOf(m.id, sockets) };
      });
      return {
        room,
        routing: this.#routing,
        lastId: snapshot.lastId,
        oldestId: snapshot.oldestId,
        members,
        instanceStartedAt: this.#startedAt,
      };
    });
  }

  summary(room: string): Promise<Outcome<RoomSummary>> {
    return this.#run(room, async (bus) => {
      const snapshot = await bus.storage.getRoom(room);
      return {
        room,
        routing: this.#routing,
        members: snapshot.members.length,
        online: snapshot.members.filter((m) => m.online).length,
        lastId: snapshot.lastId,
        sockets: this.#sockets.open().length,
      };
    });
  }

  metrics(room: string): Promise<Outcome<string>> {
    return this.#run(room, () => this.#registry.render());
  }

  countLimit(room: string, limit: LimitName): void {
    this.#init(room);
    this.#countLimit(limit);
  }

  // --- WebSockets (hibernation API) ---

  /** Upgrades a socket, or answers an MCP request, that the worker has authorised (`x-mmb-*` headers are set by the worker only). */
  override async fetch(request: Request): Promise<Response> {
    const room = request.headers.get('x-mmb-room') as string;
    if (request.headers.get('x-mmb-kind') === 'mcp') {
      this.#init(room);
      return this.#mcp.handle(request, room, request.headers.get('x-mmb-agent') as string);
    }
    const kindHeader = request.headers.get('x-mmb-kind');
    const kind = kindHeader === 'events' || kindHeader === 'watch' || kindHeader === 'stream' ? kindHeader : 'agent';
    const agent = kind === 'events' ? null : request.headers.get('x-mmb-agent');
    const afterHeader = request.headers.get('x-mmb-after');
    const { 0: client, 1: server } = new WebSocketPair();
    const refuse = (error: ErrorBody) => {
      server.accept();
      this.#sockets.refuse(server, error);
      return new Response(null, { status: 101, webSocket: client });
    };
    this.#init(room);
    const bus = this.#bus as MessageBus;
    if (this.#sockets.open().length >= this.#limits.maxSocketsPerRoom) {
      this.#countLimit('sockets');
      return refuse(
        fail('ROOM_FULL', `room "${room}" has ${this.#limits.maxSocketsPerRoom} open sockets, its limit (MAX_SOCKETS_PER_ROOM)`),
      );
    }
    // The worker checked `after` already (input.ts); the same rule again costs nothing and keeps the object safe alone.
    const parsed = readDecimal(afterHeader, 'after');
    if (!parsed.ok) return refuse(parsed.error);
    let after = parsed.value;
    if (agent !== null) {
      const member = (await bus.storage.getRoom(room)).members.find((m) => m.id === agent);
      if (!member) {
        return refuse(fail('UNKNOWN_AGENT', `agent "${agent}" is not a member of room "${room}": POST .../agents/${agent}/connect first`));
      }
      after ??= member.cursor;
      // Watch and stream sockets leave the agent exactly as online as it was.
      if (kind === 'agent' && !member.online) {
        await bus.connectAgent(agent);
        this.#presence(agent, true, member.groups, 'socket-open');
      }
    }
    const attachment: SocketAttachment = { kind, room, agent, delivered: after ?? 0 };
    this.#sockets.accept(server, attachment);
    this.#streams.resume(server, agent);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    this.#turns.run(() => this.#answerSocket(ws, data));
  }

  /** Answers one frame of a socket (run by #turns, in arrival order). */
  async #answerSocket(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    const attachment = this.#sockets.attachmentOf(ws);
    if (!attachment) return;
    this.#init(attachment.room);
    const { room, agent } = attachment;
    const answer = await answerFrame(
      data,
      {
        kind: agent === null ? 'events' : attachment.kind,
        room,
        agent,
        maxBytes: this.#limits.maxBodyBytes,
        maxContentDepth: this.#limits.maxContentDepth,
      },
      this.#frameActions,
    );
    this.#sockets.send(ws, answer);
  }

  /** While streams are open, an alarm is due within STREAM_IDLE_MS: a restarted object is built, and tells the recipients. */
  override async alarm(): Promise<void> {
    this.#streams.alarm();
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    // Behind the frames that came before it: they are answered (and their sends stored) first.
    this.#turns.run(() => this.#socketClosed(ws, code, reason));
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.#turns.run(() => this.#socketGone(this.#sockets.forget(ws)));
  }

  async #socketClosed(ws: WebSocket, code: number, reason: string): Promise<void> {
    const attachment = this.#sockets.forget(ws);
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // Already closed.
    }
    await this.#socketGone(attachment);
  }

  // --- internal helpers ---

  async #send(bus: MessageBus, sender: string, input: SendInput): Promise<StoredMessage> {
    const retryAfter = this.#buckets.take(sender);
    if (retryAfter > 0) {
      this.#countLimit('rate');
      throw new MessageBusError(
        'RATE_LIMITED',
        `agent "${sender}" sends more than ${this.#limits.ratePerSecond} messages per second (RATE_LIMIT_PER_SECOND): retry after ${retryAfter} s`,
        { details: { retryAfter } },
      );
    }
    const options: MessageOptions = {};
    if (input.idempotencyKey !== undefined) options.idempotencyKey = input.idempotencyKey;
    if (input.inReplyTo !== undefined) options.inReplyTo = input.inReplyTo;
    if (input.metadata !== undefined) options.metadata = input.metadata;
    try {
      return await bus.sendMessage(new Message(sender, input.content, input.recipients, options));
    } catch (error) {
      if (MessageBusError.is(error, 'CONTENT_TOO_LARGE')) this.#countLimit('content');
      throw error;
    }
  }

  /** Checks a change of a member's groups against the token's grant and MAX_GROUPS_PER_MEMBER (group-grant.ts). */
  #checkGroups(grant: GroupGrant, before: readonly string[], after: readonly string[]): void {
    const refusal = refuseGroupChange(grant, before, after) ?? refuseGroupCount(after, this.#limits.maxGroupsPerMember);
    if (refusal) throw errorOf(refusal);
  }

  #changeGroups(
    room: string,
    agent: string,
    grant: GroupGrant,
    change: (groups: readonly string[]) => string[],
    apply: (bus: MessageBus) => Promise<string[]>,
  ): Promise<Outcome<GroupsResponse>> {
    return this.#run(room, async (bus) => {
      const member = (await bus.storage.getMembers(room)).find((m) => m.id === agent);
      // A non-member gets the bus's UNKNOWN_AGENT.
      if (member) this.#checkGroups(grant, member.groups, change(member.groups));
      const groups = await apply(bus);
      this.#presence(agent, member?.online ?? false, groups, 'groups');
      return { agent, groups };
    });
  }

  /** A socket went away: when it was the agent's last, the agent goes offline. */
  async #socketGone(attachment: SocketAttachment | undefined): Promise<void> {
    if (attachment?.kind !== 'agent' || attachment.agent === null) return;
    this.#init(attachment.room);
    const agent = attachment.agent;
    if (this.#sockets.presence(agent).length > 0) return;
    const member = (await this.#backend.getMembers(attachment.room)).find((m) => m.id === agent);
    if (!member?.online) return;
    await this.#bus?.disconnectAgent(agent);
    this.#presence(agent, false, member.groups, 'socket-closed');
  }

  #presence(agent: string, online: boolean, groups: string[] | undefined, reason: PresenceReason): void {
    this.#event({ type: 'presence', agent, online, ...(groups ? { groups } : {}), reason, at: Date.now() });
  }

  /** A frame for every events-feed socket. */
  #event(frame: ServerFrame): void {
    this.#sockets.broadcastEvent(frame);
  }

  async #run<T>(room: string, body: (bus: MessageBus) => Promise<T> | T): Promise<Outcome<T>> {
    try {
      this.#init(room);
      return { ok: true, value: await body(this.#bus as MessageBus) };
    } catch (error) {
      return { ok: false, error: toErrorBody(error) };
    }
  }

  /** Learns the room id on the first call (an object does not know the name it was created from). */
  #init(room: string): void {
    if (this.#room === room) return;
    if (this.#room !== undefined) {
      throw new MessageBusError('MISCONFIGURED', `[mmb-worker] room object for "${this.#room}" was asked about "${room}"`);
    }
    this.#meta.room = room;
    this.#open(room);
  }

  #open(room: string): void {
    this.#room = room;
    const factory = this.policies()[this.#routing] ?? BUILT_IN.broadcast;
    const bus = new MessageBus(this.#backend, (factory as () => RoutingPolicy)(), {
      room,
      metrics: this.#registry,
      maxContentBytes: this.#limits.maxContentBytes,
      maxContentDepth: this.#limits.maxContentDepth,
      maxGroupsPerMember: this.#limits.maxGroupsPerMember,
      maxMetadataBytes: this.#limits.maxMetadataBytes,
      closeStorage: false,
      logLevel: 'warn',
      streamIdleMs: this.#limits.streamIdleMs,
    });
    this.#bus = bus;
    this.#mcp.rebind();
    this.#streams.attach(bus);
    // The live feed of every socket: synchronous with each append, so delivery order is id order.
    const stop = this.#backend.watch(room, (message) => {
      if (this.#bus === bus) this.#sockets.onStored(message);
      else stop();
    });
  }

  async #register(room: string): Promise<void> {
    if (this.#meta.registered) return;
    await directoryOf(this.env).register(room);
    this.#meta.markRegistered();
  }

  #countLimit(limit: LimitName): void {
    this.#limitRejections.inc({ room: this.#room ?? '', limit });
  }

  #defaultRouting(): string {
    const name = this.env.DEFAULT_ROUTING ?? 'broadcast';
    if (name in this.policies()) return name;
    console.warn(`[mmb-worker] DEFAULT_ROUTING="${name}" is not a known policy; using "broadcast"`);
    return 'broadcast';
  }
}

/** The default room class: built-in policies only. */
export const ChatRoom = createChatRoom();
