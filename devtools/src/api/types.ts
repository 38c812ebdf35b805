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
  PresenceFrame,
  RoomView,
  StoredMessage,
} from 'modular-message-bus-worker/contract';

export type { JsonValue, StoredMessage };

/** One row of `GET /v1/rooms` (`RoomSummary`, with `routing` as `policy`). */
export type RoomSummary = Pick<ApiRoomSummary, 'room' | 'members' | 'online' | 'lastId'> & { policy: string };

/** One member of `GET /v1/rooms/:room` as the agents panel shows it (`via`: how it connected, e.g. `mcp`). */
export type AgentState = Pick<AgentInfo, 'id' | 'online' | 'groups' | 'cursor' | 'lag' | 'lastSentAt' | 'sentCount'> &
  Pick<MemberView, 'via'>;

/** `GET /v1/rooms/:room` (`RoomView`, with `routing` as `policy`), members sorted by id. */
export type RoomDetail = Pick<RoomView, 'room' | 'lastId' | 'oldestId'> & { policy: string; members: AgentState[] };

/** A frame of the `/events` feed that is not a message: a presence change or a routing change. */
export type RoomEvent = PresenceFrame | ConfigFrame;

/** The body of `POST /v1/rooms/:room/messages` as an admin sends it: the sender is named. */
export type SendRequest = ApiSendRequest & { sender: string };

export type RoutingPolicyName = 'broadcast' | 'subgroup' | 'individual';
export const ROUTING_POLICIES: readonly RoutingPolicyName[] = ['broadcast', 'subgroup', 'individual'];
