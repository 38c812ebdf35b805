/**
 * The admin API's shapes as the dashboard uses them. The worker's JSON is read
 * through `normalize.ts`, so a renamed field there changes one function, not
 * every panel.
 */
import type { JsonValue, MessageMetadata, StoredMessage } from 'modular-message-bus-library';

export type { JsonValue, MessageMetadata, StoredMessage };

/** One row of `GET /v1/rooms`. */
export interface RoomSummary {
  room: string;
  policy: string | null;
  members: number;
  online: number;
  lastId: number;
}

/** One member of `GET /v1/rooms/:room`. */
export interface AgentState {
  id: string;
  online: boolean;
  groups: string[];
  cursor: number;
  lag: number;
  lastSentAt: number | null;
  sentCount: number;
}

/** `GET /v1/rooms/:room`. */
export interface RoomDetail {
  room: string;
  policy: string | null;
  lastId: number;
  oldestId: number;
  members: AgentState[];
}

/** A frame of the `/events` feed that is not a message: presence changes and anything newer the dashboard does not know yet. */
export interface RoomEvent {
  type: string;
  agent?: string;
  online?: boolean;
  at: number;
  raw: Record<string, unknown>;
}

/** The body of `POST /v1/rooms/:room/messages` as an admin sends it. */
export interface SendRequest {
  sender: string;
  content: JsonValue;
  recipients?: string[];
  idempotencyKey?: string;
  /** The id of the message this one answers. */
  inReplyTo?: number;
  metadata?: MessageMetadata;
}

export type RoutingPolicyName = 'broadcast' | 'subgroup' | 'individual' | 'addressed';
export const ROUTING_POLICIES: readonly RoutingPolicyName[] = ['broadcast', 'subgroup', 'individual', 'addressed'];
