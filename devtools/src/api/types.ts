/**
 * The admin API's shapes as the dashboard's panels use them, derived from the
 * worker's contract (`modular-message-bus-worker/contract`), which the worker
 * itself answers with. `normalize.ts` reads that one shape; the only renaming
 * is the room's `routing`, which the panels call `policy`.
 */
import type {
  AgentInfo,
  RoomSummary as ApiRoomSummary,
  SendRequest as ApiSendRequest,
  ConfigFrame,
  JsonValue,
  MemberView,
  MessageMetadata,
  PresenceFrame,
  RoomView,
  StoredMessage,
  StreamFrame,
} from 'modular-message-bus-worker/contract';

export type { JsonValue, MessageMetadata, StoredMessage };

/** One row of `GET /v1/rooms` (`RoomSummary`, with `routing` as `policy`). */
export type RoomSummary = Pick<ApiRoomSummary, 'room' | 'members' | 'online' | 'lastId'> & { policy: string };

/** One member of `GET /v1/rooms/:room` as the agents panel shows it (`via`: how it connected, e.g. `mcp`). */
export type AgentState = Pick<AgentInfo, 'id' | 'online' | 'groups' | 'cursor' | 'lag' | 'lastSentAt' | 'sentCount'> &
  Pick<MemberView, 'via'>;

/** `GET /v1/rooms/:room` (`RoomView`, with `routing` as `policy`), members sorted by id. */
export type RoomDetail = Pick<RoomView, 'room' | 'lastId' | 'oldestId'> & { policy: string; members: AgentState[] };

/** A frame of the `/events` feed that is not a message: a presence change or a routing change. */
export type RoomEvent = PresenceFrame | ConfigFrame;

/** A stream event of the `/events` feed (`StreamFrame`): start (with `seq` and the text so far), delta, end, abort. */
export type StreamFeedEvent = StreamFrame['event'];

/** The body of `POST /v1/rooms/:room/messages` as an admin sends it: the sender is named. */
export type SendRequest = ApiSendRequest & { sender: string };

export type RoutingPolicyName = 'broadcast' | 'subgroup' | 'individual' | 'addressed';
export const ROUTING_POLICIES: readonly RoutingPolicyName[] = ['broadcast', 'subgroup', 'individual', 'addressed'];
