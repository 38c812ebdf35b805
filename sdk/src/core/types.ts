/**
 * The shapes every part of the bus agrees on: stored messages, room state, the
 * `StorageBackend` contract and the `RoutingPolicy` contract. Nothing in here
 * touches a runtime API, so the same types serve browsers, Node.js and workerd.
 */

/** Any value that survives `JSON.stringify` / `JSON.parse` unchanged. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Why a message went where it went: the policy's name and what the sender asked for. */
export interface RoutingDecision {
  /** `name` of the routing policy that resolved the recipients. */
  policy: string;
  /** The `recipients` the sender passed (agent ids or group names), or `null` when none were given. */
  requested: readonly string[] | null;
}

/**
 * How a backend may store the resolved audience.
 * - `list`: exactly the ids in `recipients`.
 * - `members`: every member of the room at this message's id (the sender included).
 * - `members-except-sender`: every member at this id but the sender.
 * The two `members*` forms let a backend keep a broadcast once instead of once
 * per recipient and expand it on read; `recipients` then reflects the backend's
 * membership at the moment the id was assigned.
 */
export type Audience = 'list' | 'members' | 'members-except-sender';

/** A message as stored by a backend and returned by `fetchMessages` / `subscribe`. */
export interface StoredMessage {
  /** Per-room id: starts at 1, strictly increasing, gap-free. */
  readonly id: number;
  readonly room: string;
  /** Milliseconds since the Unix epoch, taken when the bus accepted the message. */
  readonly timestamp: number;
  readonly sender: string;
  readonly content: JsonValue;
  /** Agent ids the routing policy resolved, sorted. */
  readonly recipients: readonly string[];
  readonly routing: RoutingDecision;
  readonly idempotencyKey?: string;
}

/** What the bus hands to `StorageBackend.append`: a routed message without its id. */
export interface MessageDraft {
  timestamp: number;
  sender: string;
  /** A deep-frozen copy made by the bus: a backend may keep it as it is. */
  content: JsonValue;
  /**
   * Resolved recipients, sorted and unique. For a `members*` audience this is the
   * bus's view (the backend's membership at append time wins). May be shared
   * between drafts: never mutate it.
   */
  recipients: readonly string[];
  audience: Audience;
  routing: RoutingDecision;
  idempotencyKey?: string;
  /** `JSON.stringify(content)`, already computed by the bus (backends that serialise may reuse it). */
  contentJson: string;
  /**
   * The member list the message was routed with (the very array `getMembers` returned), when it may have come
   * from a cache; absent when the bus read it with `fresh`. A backend whose `getMembers` may answer from a cache
   * that another process can outdate checks, atomically with the append, that this list is still current; if
   * it is not, it stores nothing and throws `membersChanged(...)`, and the bus routes the message again on a
   * fresh list (once: that list was read after the send began). Other backends ignore it.
   */
  members?: readonly MemberRecord[];
}

/** The result of `StorageBackend.append`. */
export interface AppendResult {
  message: StoredMessage;
  /** `true` when `idempotencyKey` matched an earlier message from the same sender: nothing new was stored. */
  duplicate: boolean;
}

/** Membership facts of one agent: what routing needs. */
export interface MemberRecord {
  id: string;
  online: boolean;
  /** Group names, sorted. */
  groups: string[];
  /** The room's last id when this membership began: nothing at or before it was routed to this membership. */
  joinedAfter: number;
}

/** A member with its delivery state, as `getRoom` reports it. */
export interface MemberState extends MemberRecord {
  /** The agent's acknowledged cursor (`ackMessages`); 0 when it never acked. */
  cursor: number;
  /** Highest retained id routed to the agent, 0 if none. */
  lastRoutedId: number;
  /** Messages this agent has sent in the room (idempotent repeats not counted). */
  sentCount: number;
  /** Timestamp of the agent's last stored message, or `null`. */
  lastSentAt: number | null;
}

/** Options of `StorageBackend.getMembers`. */
export interface GetMembersOptions {
  /**
   * Read the store even when a cached list is at hand. The bus asks for this before it refuses a send over
   * membership (unknown sender, recipient or group; sender offline), so a refusal never rests on a stale list.
   */
  fresh?: boolean;
}

/** What the bus passes to `putMember`: a new member or an update of an existing one. */
export interface MemberUpdate {
  id: string;
  online: boolean;
  /** Replaces the member's groups; `undefined` keeps them (a new member gets none). */
  groups?: string[];
}

/** A consistent snapshot of one room. */
export interface RoomSnapshot {
  room: string;
  /** Highest id assigned so far (0 for an empty room). */
  lastId: number;
  /** Lowest id still retained (`lastId + 1` when nothing is retained). */
  oldestId: number;
  /** Members sorted by id. */
  members: MemberState[];
}

/**
 * The storage contract. One object may serve many rooms; every method takes the
 * room id first. Backends must make `append` atomic: id assignment, the
 * idempotency check, storage and the delivery index happen together or not at
 * all, because several writers (tabs, processes) may share a room.
 *
 * Run `storageBackendSuite` from `modular-message-bus-library/testing` against a
 * custom backend to check it keeps every promise below.
 */
export interface StorageBackend {
  /** Short name used in logs and errors, e.g. `memory`, `redis`. */
  readonly name: string;
  /**
   * The room's members, sorted by id: the hot path of every send, so a backend
   * should return the same (unmodified) array while membership is unchanged;
   * callers never mutate it. An unknown room has no members. A backend that caches the list must honour
   * `fresh`, and check `MessageDraft.members` in `append`, so routing sees every membership change that was
   * acknowledged (to any process) before the send began.
   */
  getMembers(room: string, options?: GetMembersOptions): Promise<readonly MemberRecord[]> | readonly MemberRecord[];
  /** Full room state: members with cursors and counters, `lastId`, `oldestId`. An unknown room is empty, not an error. */
  getRoom(room: string): Promise<RoomSnapshot>;
  /** Rooms that hold members or messages. */
  listRooms(): Promise<string[]>;
  /** Creates or updates a member (online state, groups). Returns the stored record. */
  putMember(room: string, update: MemberUpdate): Promise<MemberRecord>;
  /** Ends a membership. Returns `false` when the agent was not a member. Nothing is routed to it afterwards. */
  removeMember(room: string, agentId: string): Promise<boolean>;
  /**
   * Stores a routed message under the next id, atomically with its idempotency
   * key and delivery index. Must throw `MessageBusError('UNKNOWN_AGENT')` if the
   * sender is no longer a member at append time, and store nothing then.
   */
  append(room: string, draft: MessageDraft): Promise<AppendResult> | AppendResult;
  /**
   * Messages routed to `agentId` with `id > after`, ascending, at most `limit`;
   * `after: null` means after the agent's acknowledged cursor.
   * Must be answered from an index (O(log n + k)), not a scan of the room.
   * Throws `CURSOR_EXPIRED` (with `oldestId` in `details`) when `after` points
   * into history that retention removed and that could have held deliveries for the agent.
   */
  fetch(room: string, agentId: string, after: number | null, limit: number): Promise<StoredMessage[]>;
  /** Every retained message of the room with `id > after`, ascending, at most `limit`. */
  history(room: string, after: number, limit: number): Promise<StoredMessage[]>;
  /** Moves the agent's cursor forward to `upTo` (never backwards). Returns the cursor now stored. Throws `UNKNOWN_AGENT` for a non-member. */
  ack(room: string, agentId: string, upTo: number): Promise<number>;
  /**
   * Optional live feed: calls `listener` for every message appended to the room
   * by any writer sharing this storage (another bus, tab or process), in id
   * order where the transport allows. The bus still fetches to close gaps, so
   * a lost notification delays delivery but never drops it.
   */
  watch?(room: string, listener: (message: StoredMessage) => void): () => void;
  /** Releases connections, locks and timers. Further calls reject with `CLOSED`. */
  close(): Promise<void>;
}

/** One member as a routing policy sees it. */
export interface RoomMember {
  readonly id: string;
  readonly online: boolean;
  readonly groups: readonly string[];
}

/** The room as a routing policy sees it at send time. */
export interface RoomView {
  readonly id: string;
  /** Members, sorted by id. */
  readonly members: readonly RoomMember[];
  /** Each group name mapped to its member ids (sorted). */
  readonly groups: ReadonlyMap<string, readonly string[]>;
  /** `true` when `agentId` is a member. */
  has(agentId: string): boolean;
  /** The member with this id, if any. */
  member(agentId: string): RoomMember | undefined;
}

/** The message a routing policy is asked to route. */
export interface RoutableMessage {
  readonly sender: string;
  readonly content: JsonValue;
  /** What the sender asked for, or `undefined` when none were given. */
  readonly recipients: readonly string[] | undefined;
}

/** What a policy returns: recipient ids, or an audience of every member (stored compactly). */
export type RouteResult = readonly string[] | { readonly audience: 'members' | 'members-except-sender' };

/**
 * Decides who receives a message. `route` may be sync or async; it should throw
 * a `MessageBusError` (`UNKNOWN_RECIPIENT`, `UNKNOWN_GROUP`, `INVALID_MESSAGE`)
 * for a bad request. Any other throw, or a result that is not a list of member
 * ids, is reported to the sender as `ROUTING_FAILED` and nothing is stored.
 *
 * @example
 * ```ts
 * // Round-robin turn-taking: each message goes to the next member after the sender.
 * const roundRobin: RoutingPolicy = {
 *   name: 'round-robin',
 *   route(message, room) {
 *     const ids = room.members.map((m) => m.id);
 *     return [ids[(ids.indexOf(message.sender) + 1) % ids.length]];
 *   },
 * };
 * ```
 */
export interface RoutingPolicy {
  readonly name: string;
  route(message: RoutableMessage, room: RoomView): RouteResult | Promise<RouteResult>;
}
