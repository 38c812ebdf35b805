/**
 * The worker's contract, as types only: the RPC the worker calls on a room
 * object (`RoomRpc`, implemented by `ChatRoomBase`) and on the directory
 * (`DirectoryRpc`), and the JSON bodies and frames of the HTTP and WebSocket
 * API that clients such as the devtools read. No runtime code and no
 * Cloudflare types, so a browser bundle can import it (`import type` from
 * `modular-message-bus-worker/contract`).
 */
import type {
  AgentInfo,
  ErrorCode,
  JsonValue,
  MessageMetadata,
  RoutingDecision,
  StoredMessage,
  StreamSignal,
} from 'modular-message-bus-library';

export type { AgentInfo, ErrorCode, JsonValue, MessageMetadata, StoredMessage, StreamSignal };

// --- errors ---

/** The JSON body of an error: `{ code, message, ...details }` (for example `retryAfter`, `limit`, `oldestId`). */
export type ErrorBody = { code: ErrorCode; message: string } & Record<string, unknown>;

/** Every non-2xx JSON answer of the API. */
export interface ErrorResponse {
  error: ErrorBody;
}

/** What a room's RPC methods return: errors travel as data, since thrown errors lose their class across RPC. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: ErrorBody };

// --- shapes the API answers with ---

/** How a member connected: through an MCP session, a WebSocket, or the HTTP API. */
export type MemberVia = 'mcp' | 'websocket' | 'http';

/** A member as `GET /v1/rooms/:room` reports it. */
export interface MemberView extends AgentInfo {
  /** Open WebSockets of this agent. */
  sockets: number;
  /** `mcp` when an MCP session joined it (online or not), else `websocket` while it has a socket open, else `http`. */
  via: MemberVia;
}

/** `GET /v1/rooms/:room`. */
export interface RoomView {
  room: string;
  /** The room's routing policy name. */
  routing: string;
  lastId: number;
  oldestId: number;
  members: MemberView[];
  /** When this instance of the room object was constructed (it changes after eviction or hibernation). */
  instanceStartedAt: number;
}

/** One entry of `GET /v1/rooms`. */
export interface RoomSummary {
  room: string;
  routing: string;
  members: number;
  online: number;
  lastId: number;
  sockets: number;
}

/** `GET /v1/rooms`. */
export interface RoomsResponse {
  rooms: RoomSummary[];
}

/** `GET /v1/rooms/:room/messages`, `…/messages/latest`, `…/threads/:thread` and `…/history`. */
export interface MessagesResponse {
  messages: StoredMessage[];
}

/** `PUT /v1/rooms/:room`. */
export interface RoutingResponse {
  room: string;
  routing: string;
}

/** `POST /v1/rooms/:room/agents/:agent/disconnect`. */
export interface DisconnectResponse {
  agent: string;
  online: false;
}

/** `DELETE /v1/rooms/:room/agents/:agent`. */
export interface RemoveResponse {
  agent: string;
  removed: true;
}

/** `POST /v1/rooms/:room/agents/:agent/ack`. */
export interface AckResponse {
  agent: string;
  cursor: number;
}

// --- request bodies ---

/** The body of `POST /v1/rooms/:room/messages` (`sender` only with an admin token). */
export interface SendRequest {
  content: JsonValue;
  recipients?: string[];
  idempotencyKey?: string;
  sender?: string;
  /** The id of the earlier message this one answers. */
  inReplyTo?: number;
  metadata?: MessageMetadata;
}

/** What a send carries to the room object besides its sender. */
export interface SendInput {
  content: JsonValue;
  recipients?: string[];
  idempotencyKey?: string;
  inReplyTo?: number;
  metadata?: MessageMetadata;
}

// --- WebSocket frames ---

/**
 * A stored message as a socket carries it: without `room` (the socket's), without `thread` when it is the
 * message's own id (a message that answers nothing), and without `recipients` when the frame names an `audience`
 * instead (see `AudienceFrame`), then also without `routing` when it is the audience's. The SDK's `FrameReader`
 * puts all four back.
 */
export type WireMessage = Omit<StoredMessage, 'room' | 'recipients' | 'routing' | 'thread'> & {
  room?: string;
  recipients?: readonly string[];
  routing?: RoutingDecision;
  thread?: number;
};

/**
 * A stored message, on an agent socket (routed to the agent) or on the events feed (every message). One text per
 * message serves every socket. With `audience`, the recipients are that audience's `members` in their order,
 * without the sender (with `withSender`, all of them); otherwise `message.recipients` lists them.
 */
export interface MessageFrame {
  type: 'message';
  audience?: number;
  withSender?: true;
  message: WireMessage;
}

/**
 * A recipient list sent once on a socket, before the first message frame that names it: a long list (8 ids or
 * more) travels once per socket instead of once per message. The latest audience frame of a socket replaces the
 * one before; every id in it is a recipient or the sender of the message that follows it. `routing` is the
 * routing decision of a message frame that names this audience and carries no `routing` of its own (the
 * broadcasts of one membership share it).
 */
export interface AudienceFrame {
  type: 'audience';
  audience: number;
  members: string[];
  routing: RoutingDecision;
}

/** Why a member's presence changed. */
export type PresenceReason = 'connect' | 'disconnect' | 'removed' | 'socket-open' | 'socket-closed' | 'groups';

/** Events feed: a member went online or offline, or its groups changed (`groups` when known). */
export interface PresenceFrame {
  type: 'presence';
  agent: string;
  online: boolean;
  groups?: string[];
  reason: PresenceReason;
  at: number;
}

/** Events feed: the room's routing policy changed. */
export interface ConfigFrame {
  type: 'config';
  routing: string;
  at: number;
}

/**
 * An event of a stream (`MessageBus.stream`), on the sockets of its sender and recipients (agent, watch and
 * stream sockets) and on the events feed. `start` carries `seq`, the deltas its `text` already holds: 0 when the
 * stream begins, more when a socket opens mid-stream (it gets a `start` with all text so far for each stream in
 * flight, then the following deltas). `abort` reasons include `IDLE`, `RATE_LIMITED`, `CONTENT_TOO_LARGE`,
 * `CLOSED` and `RESTARTED` (the room object lost the stream when it restarted or woke from hibernation).
 */
export interface StreamFrame {
  type: 'stream';
  event: Exclude<StreamSignal, { type: 'sync' }>;
}

/** A stream as `stream-start` answers it. */
export interface StreamOpened {
  id: string;
  recipients: readonly string[];
  /** The room's MAX_CONTENT_BYTES: the client fails a write that would go over it at once, as the room would. */
  maxContentBytes: number;
}

/**
 * The answer to a client frame, carrying its `ref`: for a send, the stored message's `id`, `timestamp` and `thread`
 * (the sender has the rest; for a repeated idempotency key, those of the message stored the first time); `message`
 * for a `stream-end`; `cursor` for an ack; `stream` for a `stream-start`; nothing for a ping, a `stream-write` or a
 * `stream-abort`.
 */
export interface OkFrame {
  type: 'ok';
  ref: FrameRef;
  id?: number;
  timestamp?: number;
  thread?: number;
  message?: StoredMessage;
  cursor?: number;
  stream?: StreamOpened;
}

/** A refused client frame (with its `ref`), or a refused socket (`ref: null`, followed by a 4000 + status close). */
export interface ErrorFrame {
  type: 'error';
  ref: FrameRef;
  error: ErrorBody;
}

/** Every frame the server sends on `/v1/rooms/:room/ws` and `/v1/rooms/:room/events`. */
export type ServerFrame = MessageFrame | AudienceFrame | PresenceFrame | ConfigFrame | StreamFrame | OkFrame | ErrorFrame;

/** The client's tag for matching an answer to its frame: a string (at most 128 characters) or a number; `null` when absent or unusable. */
export type FrameRef = string | number | null;

/** Frames an agent socket may send (the events feed accepts only `ping`). */
export type ClientFrame =
  | {
      type: 'send';
      ref?: FrameRef;
      content: JsonValue;
      recipients?: string[];
      idempotencyKey?: string;
      inReplyTo?: number;
      metadata?: MessageMetadata;
    }
  | { type: 'ack'; ref?: FrameRef; upTo: number }
  | { type: 'ping'; ref?: FrameRef }
  /** Opens a stream (agent and stream sockets): `content` is the initial text (default ''); routed at once. */
  | {
      type: 'stream-start';
      ref?: FrameRef;
      content?: string;
      recipients?: string[];
      idempotencyKey?: string;
      inReplyTo?: number;
      metadata?: MessageMetadata;
    }
  /**
   * Appends `text`. `seq` (optional, but send it) numbers the writes 1, 2, 3...: the room applies them in that
   * order whatever order the runtime hands it the frames in, and a write resent after a reconnect is answered
   * `ok` and not applied twice. Without `seq`, writes apply in arrival order.
   */
  | { type: 'stream-write'; ref?: FrameRef; streamId: string; seq?: number; text: string }
  /**
   * Stores the stream as one message (`content`: the final content, any JSON; default all the text), after the
   * writes up to `seq` (the last write's) are in. Safe to resend: a second one gets the same message.
   */
  | { type: 'stream-end'; ref?: FrameRef; streamId: string; seq?: number; content?: JsonValue }
  | { type: 'stream-abort'; ref?: FrameRef; streamId: string; reason?: string };

// --- RPC ---

/**
 * Which groups a request may make an agent join or leave: any (`'*'`: admin tokens, or an agent token whose
 * `groups` claim is `["*"]`), the names of the agent token's `groups` claim, or none (`null`: no claim).
 */
export type GroupGrant = '*' | readonly string[] | null;

/** `PUT` and `DELETE /v1/rooms/:room/agents/:agent/groups/:group`: the member's groups afterwards. */
export interface GroupsResponse {
  agent: string;
  groups: string[];
}

/** Kinds of limit counted in `mmb_limit_rejections_total`. */
export type LimitName = 'body' | 'content' | 'rate' | 'sockets' | 'members' | 'streams' | 'stream-deltas';

/**
 * The room object's RPC, as the worker calls it. Each method takes the room
 * id first (an object does not know the name it was created from) and never
 * throws: refusals come back as `{ ok: false, error }`.
 */
export interface RoomRpc {
  /** `groups` replaces the member's groups (omit it to keep them); every group added or dropped must be in `grant`. */
  connectAgent(room: string, agent: string, groups: string[] | undefined, grant: GroupGrant): Promise<Outcome<AgentInfo>>;
  joinGroup(room: string, agent: string, group: string, grant: GroupGrant): Promise<Outcome<GroupsResponse>>;
  leaveGroup(room: string, agent: string, group: string, grant: GroupGrant): Promise<Outcome<GroupsResponse>>;
  disconnectAgent(room: string, agent: string): Promise<Outcome<DisconnectResponse>>;
  removeAgent(room: string, agent: string): Promise<Outcome<RemoveResponse>>;
  sendMessage(room: string, sender: string, input: SendInput): Promise<Outcome<StoredMessage>>;
  fetchMessages(room: string, agent: string, after: number | undefined, limit: number | undefined): Promise<Outcome<StoredMessage[]>>;
  /** The thread as `agent` sees it (`MessageBus.fetchThread`). */
  fetchThread(
    room: string,
    agent: string,
    thread: number,
    after: number | undefined,
    limit: number | undefined,
  ): Promise<Outcome<StoredMessage[]>>;
  /** The newest messages routed to `agent` below `before` (`MessageBus.fetchLatest`). */
  fetchLatest(room: string, agent: string, before: number | undefined, limit: number | undefined): Promise<Outcome<StoredMessage[]>>;
  ackMessages(room: string, agent: string, upTo: number): Promise<Outcome<AckResponse>>;
  history(room: string, after: number, limit: number | undefined): Promise<Outcome<StoredMessage[]>>;
  configure(room: string, routing: string): Promise<Outcome<RoutingResponse>>;
  describe(room: string): Promise<Outcome<RoomView>>;
  summary(room: string): Promise<Outcome<RoomSummary>>;
  metrics(room: string): Promise<Outcome<string>>;
  /** Counts a limit refusal the worker made before reaching the room (a body over MAX_BODY_BYTES). */
  countLimit(room: string, limit: LimitName): void | Promise<void>;
}

/** The room directory's RPC: the rooms a deployment has seen. */
export interface DirectoryRpc {
  /** Records a room (idempotent). */
  register(room: string): void | Promise<void>;
  /** Every room recorded, sorted. */
  list(): string[] | Promise<string[]>;
}
