/**
 * Reads the worker's JSON into the panels' shapes. The worker answers with the
 * types of its contract (`modular-message-bus-worker/contract`); these readers
 * take exactly those field names and drop what does not have them (an answer
 * from something that is not this worker), so a panel never sees a half-shaped
 * value and nothing guesses between spellings.
 */
import type { FrameReader } from 'modular-message-bus-library/client';
import type { RoomSummary as ApiRoomSummary, MemberVia, MemberView, RoomView, ServerFrame } from 'modular-message-bus-worker/contract';
import type { AgentState, RoomDetail, RoomEvent, RoomSummary, StoredMessage, StreamFeedEvent } from './types.js';

type Obj = Record<string, unknown>;

const isObj = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);
const isNum = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isMessageId = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
const isStrings = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === 'string');
const VIAS: readonly MemberVia[] = ['mcp', 'websocket', 'http'];

/** `RoomSummary` of the contract, checked field by field. */
function isRoomSummary(value: unknown): value is ApiRoomSummary {
  return (
    isObj(value) &&
    typeof value.room === 'string' &&
    typeof value.routing === 'string' &&
    isNum(value.members) &&
    isNum(value.online) &&
    isNum(value.lastId)
  );
}

function isMember(value: unknown): value is MemberView {
  return (
    isObj(value) &&
    typeof value.id === 'string' &&
    typeof value.online === 'boolean' &&
    isStrings(value.groups) &&
    isNum(value.cursor) &&
    isNum(value.lag) &&
    isNum(value.sentCount) &&
    (value.lastSentAt === null || isNum(value.lastSentAt))
  );
}

function isRoomView(value: unknown): value is RoomView {
  return (
    isObj(value) &&
    typeof value.room === 'string' &&
    typeof value.routing === 'string' &&
    isNum(value.lastId) &&
    isNum(value.oldestId) &&
    Array.isArray(value.members)
  );
}

/** `GET /v1/rooms` (`RoomsResponse`) → rooms sorted by name. */
export function readRooms(body: unknown): RoomSummary[] {
  const list = isObj(body) && Array.isArray(body.rooms) ? body.rooms : [];
  return list
    .filter(isRoomSummary)
    .map(({ room, routing, members, online, lastId }) => ({ room, policy: routing, members, online, lastId }))
    .sort((a, b) => a.room.localeCompare(b.room));
}

/** `GET /v1/rooms/:room` (`RoomView`) → the room with its members sorted by id. */
export function readRoomDetail(body: unknown, room: string): RoomDetail {
  if (!isRoomView(body)) return { room, policy: 'unknown', lastId: 0, oldestId: 1, members: [] };
  const members: AgentState[] = body.members
    .filter(isMember)
    .map(({ id, online, groups, cursor, lag, lastSentAt, sentCount, via }) => ({
      id,
      online,
      groups,
      cursor,
      lag,
      lastSentAt,
      sentCount,
      // A worker from before MCP sends no `via`: its members connected over HTTP or WebSocket.
      via: VIAS.includes(via) ? via : 'http',
    }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { room: body.room, policy: body.routing, lastId: body.lastId, oldestId: body.oldestId, members };
}

/** A `StoredMessage`, or `null` when the value is not one. */
export function readMessage(value: unknown): StoredMessage | null {
  if (
    !isObj(value) ||
    !isNum(value.id) ||
    typeof value.room !== 'string' ||
    !isNum(value.timestamp) ||
    typeof value.sender !== 'string' ||
    !('content' in value) ||
    !isStrings(value.recipients) ||
    !isObj(value.routing) ||
    typeof value.routing.policy !== 'string' ||
    !(value.routing.requested === null || isStrings(value.routing.requested)) ||
    !(value.inReplyTo === undefined || isMessageId(value.inReplyTo)) ||
    !(value.thread === undefined || isMessageId(value.thread)) ||
    !(value.metadata === undefined || isObj(value.metadata)) ||
    !(value.streamId === undefined || typeof value.streamId === 'string')
  ) {
    return null;
  }
  return value as unknown as StoredMessage;
}

/** `GET …/history` and `GET …/messages` (`MessagesResponse`) → messages. */
export function readMessages(body: unknown): StoredMessage[] {
  const list = isObj(body) && Array.isArray(body.messages) ? body.messages : [];
  return list.map(readMessage).filter((m): m is StoredMessage => m !== null);
}

/** What one `/events` frame carries. */
export type FeedFrame =
  | { kind: 'message'; message: StoredMessage }
  | { kind: 'event'; event: RoomEvent }
  | { kind: 'stream'; event: StreamFeedEvent }
  | { kind: 'error'; code: string; message: string }
  /** The stream cannot be read on (a message names an audience this socket never got): reopen from the last id. */
  | { kind: 'broken'; message: string }
  | { kind: 'ignore' };

/**
 * Reads one `/events` frame (`ServerFrame`): messages, presence and routing
 * changes (which make the panels refresh the room), stream events and errors. `reader` is the
 * socket's `FrameReader`, which keeps its `audience` frames and completes each
 * message with its room and recipients. `ok` answers to pings, and frame types
 * newer than this dashboard, are ignored.
 */
export function readFeedFrame(data: string, reader: FrameReader): FeedFrame {
  let value: unknown;
  try {
    value = reader.read(data);
  } catch (error) {
    return { kind: 'broken', message: error instanceof Error ? error.message : String(error) };
  }
  if (!isObj(value)) return { kind: 'ignore' };
  const frame = value as Partial<ServerFrame> & Obj;
  switch (frame.type) {
    case 'message': {
      const message = readMessage(frame.message);
      return message ? { kind: 'message', message } : { kind: 'ignore' };
    }
    case 'presence':
      if (typeof frame.agent !== 'string' || typeof frame.online !== 'boolean' || !isNum(frame.at)) return { kind: 'ignore' };
      return { kind: 'event', event: frame as RoomEvent };
    case 'config':
      if (typeof frame.routing !== 'string' || !isNum(frame.at)) return { kind: 'ignore' };
      return { kind: 'event', event: frame as RoomEvent };
    case 'stream': {
      const event = readStreamEvent(frame.event);
      return event ? { kind: 'stream', event } : { kind: 'ignore' };
    }
    case 'error': {
      const error: Obj = isObj(frame.error) ? frame.error : {};
      const code = typeof error.code === 'string' ? error.code : 'ERROR';
      const message = typeof error.message === 'string' ? error.message : 'The events feed reported an error.';
      return { kind: 'error', code, message };
    }
    default:
      return { kind: 'ignore' };
  }
}

/** A `StreamFrame`'s event, checked by its type: a `start` carries the route and the text so far, a `delta` its seq. */
function readStreamEvent(value: unknown): StreamFeedEvent | null {
  if (!isObj(value) || typeof value.streamId !== 'string') return null;
  switch (value.type) {
    case 'start':
      return typeof value.sender === 'string' && isStrings(value.recipients) && typeof value.text === 'string' && isNum(value.seq)
        ? (value as unknown as StreamFeedEvent)
        : null;
    case 'delta':
      return typeof value.text === 'string' && isNum(value.seq) ? (value as unknown as StreamFeedEvent) : null;
    case 'end':
      return readMessage(value.message) ? (value as unknown as StreamFeedEvent) : null;
    case 'abort':
      return typeof value.reason === 'string' ? (value as unknown as StreamFeedEvent) : null;
    default:
      return null;
  }
}
