/**
 * Reads the worker's JSON into the dashboard's shapes. The contract is issue 4's
 * admin API; these readers accept the few spellings a field could reasonably
 * take (`room` or `id`, a member count or a member list) so the panels never
 * depend on one exact response layout.
 */
import type { AgentState, RoomDetail, RoomEvent, RoomSummary, StoredMessage } from './types.js';

type Obj = Record<string, unknown>;

const isObj = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);
const num = (value: unknown, fallback = 0): number => (typeof value === 'number' && Number.isFinite(value) ? value : fallback);
const str = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/** Policy name from `policy`, `routing` or `routing.policy`. */
function policyOf(value: Obj): string | null {
  if (typeof value.policy === 'string') return value.policy;
  if (typeof value.routing === 'string') return value.routing;
  if (isObj(value.routing) && typeof value.routing.policy === 'string') return value.routing.policy;
  return null;
}

/** `GET /v1/rooms` → rooms sorted by name. */
export function readRooms(body: unknown): RoomSummary[] {
  const list = Array.isArray(body) ? body : isObj(body) && Array.isArray(body.rooms) ? body.rooms : [];
  const rooms: RoomSummary[] = [];
  for (const entry of list) {
    if (typeof entry === 'string') {
      rooms.push({ room: entry, policy: null, members: 0, online: 0, lastId: 0 });
      continue;
    }
    if (!isObj(entry)) continue;
    const room = str(entry.room) ?? str(entry.id) ?? str(entry.name);
    if (!room) continue;
    const members = Array.isArray(entry.members) ? entry.members.length : num(entry.members, num(entry.memberCount));
    const online = Array.isArray(entry.members)
      ? entry.members.filter((m) => isObj(m) && m.online === true).length
      : num(entry.online, num(entry.onlineCount));
    rooms.push({ room, policy: policyOf(entry), members, online, lastId: num(entry.lastId, num(entry.last_id)) });
  }
  return rooms.sort((a, b) => a.room.localeCompare(b.room));
}

function readAgent(entry: Obj): AgentState | null {
  const id = str(entry.id) ?? str(entry.agent);
  if (!id) return null;
  const cursor = num(entry.cursor, num(entry.ackedCursor, num(entry.acked)));
  const lastRouted = num(entry.lastRoutedId, cursor);
  return {
    id,
    online: entry.online === true,
    groups: Array.isArray(entry.groups) ? entry.groups.filter((g): g is string => typeof g === 'string') : [],
    cursor,
    lag: num(entry.lag, Math.max(0, lastRouted - cursor)),
    lastSentAt: typeof entry.lastSentAt === 'number' ? entry.lastSentAt : null,
    sentCount: num(entry.sentCount, num(entry.messagesSent, num(entry.sent))),
  };
}

/** `GET /v1/rooms/:room` → members sorted by id. */
export function readRoomDetail(body: unknown, room: string): RoomDetail {
  const value = isObj(body) && isObj(body.room) ? body.room : isObj(body) ? body : {};
  const members = (Array.isArray(value.members) ? value.members : [])
    .map((m) => (isObj(m) ? readAgent(m) : null))
    .filter((m): m is AgentState => m !== null)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const lastId = num(value.lastId);
  return { room: str(value.room) ?? str(value.id) ?? room, policy: policyOf(value), lastId, oldestId: num(value.oldestId, 1), members };
}

/** A stored message, or `null` when the value is not one. */
export function readMessage(value: unknown): StoredMessage | null {
  if (!isObj(value) || typeof value.id !== 'number' || typeof value.sender !== 'string') return null;
  const routing = isObj(value.routing) ? value.routing : {};
  return {
    id: value.id,
    room: str(value.room) ?? '',
    timestamp: num(value.timestamp, Date.now()),
    sender: value.sender,
    content: (value.content ?? null) as StoredMessage['content'],
    recipients: Array.isArray(value.recipients) ? value.recipients.filter((r): r is string => typeof r === 'string') : [],
    routing: {
      policy: str(routing.policy) ?? 'unknown',
      requested: Array.isArray(routing.requested) ? routing.requested.filter((r): r is string => typeof r === 'string') : null,
    },
    ...(typeof value.idempotencyKey === 'string' ? { idempotencyKey: value.idempotencyKey } : {}),
    ...(isMessageId(value.inReplyTo) ? { inReplyTo: value.inReplyTo } : {}),
    // A message stored before threads existed is its own root.
    thread: isMessageId(value.thread) ? value.thread : value.id,
    ...(isObj(value.metadata) ? { metadata: value.metadata as NonNullable<StoredMessage['metadata']> } : {}),
  };
}

const isMessageId = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value > 0;

/** `GET …/history` → messages. */
export function readMessages(body: unknown): StoredMessage[] {
  const list = isObj(body) && Array.isArray(body.messages) ? body.messages : Array.isArray(body) ? body : [];
  return list.map(readMessage).filter((m): m is StoredMessage => m !== null);
}

/** What one `/events` frame carries. */
export type FeedFrame =
  | { kind: 'message'; message: StoredMessage }
  | { kind: 'event'; event: RoomEvent }
  | { kind: 'error'; code: string; message: string }
  | { kind: 'ignore' };

/**
 * Reads one `/events` frame. Messages may come as `{ type: 'message', message }`
 * (the agent socket's frame) or as a bare stored message; everything else with a
 * `type` is a room event (presence, membership, routing) that makes the panels
 * refresh the room.
 */
export function readFeedFrame(data: string): FeedFrame {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return { kind: 'ignore' };
  }
  if (!isObj(value)) return { kind: 'ignore' };
  if (value.type === 'error' || (value.type === undefined && isObj(value.error))) {
    const error = isObj(value.error) ? value.error : value;
    return { kind: 'error', code: str(error.code) ?? 'ERROR', message: str(error.message) ?? 'The events feed reported an error.' };
  }
  const direct = readMessage(value.message) ?? (value.type === undefined || value.type === 'message' ? readMessage(value) : null);
  if (direct) return { kind: 'message', message: direct };
  if (typeof value.type === 'string') {
    if (value.type === 'ok' || value.type === 'pong' || value.type === 'ready') return { kind: 'ignore' };
    const agent = str(value.agent) ?? str(value.agentId) ?? (isObj(value.member) ? str(value.member.id) : null);
    const online =
      typeof value.online === 'boolean'
        ? value.online
        : isObj(value.member) && typeof value.member.online === 'boolean'
          ? value.member.online
          : undefined;
    return {
      kind: 'event',
      event: {
        type: value.type,
        ...(agent ? { agent } : {}),
        ...(online === undefined ? {} : { online }),
        at: num(value.timestamp, Date.now()),
        raw: value,
      },
    };
  }
  return { kind: 'ignore' };
}
