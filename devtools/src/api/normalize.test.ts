import { FrameReader } from 'modular-message-bus-library/client';
import type {
  AudienceFrame,
  MessageFrame,
  PresenceFrame,
  RoomsResponse,
  RoomView,
  StoredMessage,
} from 'modular-message-bus-worker/contract';
import { describe, expect, it } from 'vitest';
import { readFeedFrame, readMessages, readRoomDetail, readRooms } from './normalize.js';

// Fixtures are typed with the worker's contract: a field renamed there fails the typecheck here.
const message: StoredMessage = {
  id: 3,
  room: 'lab',
  timestamp: 1,
  sender: 'a',
  content: 'hi',
  recipients: ['b'],
  routing: { policy: 'broadcast', requested: null },
  thread: 3,
};

describe('admin API readers', () => {
  it('reads the rooms list, with the routing shown as the policy', () => {
    const body: RoomsResponse = { rooms: [{ room: 'lab', routing: 'subgroup', members: 4, online: 3, lastId: 9, sockets: 2 }] };
    expect(readRooms(body)).toEqual([{ room: 'lab', policy: 'subgroup', members: 4, online: 3, lastId: 9 }]);
  });

  it('reads one shape only: other spellings are dropped, not guessed', () => {
    expect(readRooms({ rooms: [{ id: 'lab', routing: 'subgroup', members: 1, online: 1, last_id: 2 }] })).toEqual([]);
    expect(readRooms({ rooms: [{ name: 'lab', policy: 'subgroup', members: [], online: 0, lastId: 2 }] })).toEqual([]);
    expect(readRooms(['lab'])).toEqual([]);
    expect(readRoomDetail({ room: { room: 'lab' } }, 'lab')).toMatchObject({ room: 'lab', members: [] });
    expect(readMessages([message])).toEqual([]);
    expect(readMessages({ messages: [message, { ...message, id: '4' }] })).toEqual([message]);
  });

  it('reads a room with members, cursor, lag and last sent time', () => {
    const body: RoomView = {
      room: 'lab',
      routing: 'broadcast',
      lastId: 5,
      oldestId: 1,
      instanceStartedAt: 0,
      members: [
        {
          id: 'b',
          online: false,
          groups: [],
          cursor: 1,
          lastRoutedId: 5,
          lag: 4,
          sentCount: 0,
          lastSentAt: null,
          joinedAfter: 0,
          sockets: 0,
          via: 'mcp',
        },
        {
          id: 'a',
          online: true,
          groups: ['g'],
          cursor: 5,
          lastRoutedId: 5,
          lag: 0,
          sentCount: 2,
          lastSentAt: 10,
          joinedAfter: 0,
          sockets: 1,
          via: 'websocket',
        },
      ],
    };
    const detail = readRoomDetail(body, 'lab');
    expect(detail.policy).toBe('broadcast');
    expect(detail.members.map((m) => [m.id, m.online, m.lag, m.lastSentAt, m.sentCount, m.via])).toEqual([
      ['a', true, 0, 10, 2, 'websocket'],
      ['b', false, 4, null, 0, 'mcp'],
    ]);
  });

  it('tells message, presence and error frames apart', () => {
    const reader = new FrameReader('lab');
    const read = (frame: unknown) => readFeedFrame(typeof frame === 'string' ? frame : JSON.stringify(frame), reader);
    const messageFrame: MessageFrame = { type: 'message', message };
    expect(read(messageFrame)).toEqual({ kind: 'message', message });
    const presence: PresenceFrame = { type: 'presence', agent: 'b', online: false, reason: 'socket-closed', at: 7 };
    expect(read(presence)).toEqual({ kind: 'event', event: presence });
    expect(read({ type: 'config', routing: 'individual', at: 8 })).toMatchObject({ kind: 'event' });
    expect(read({ type: 'error', ref: null, error: { code: 'UNAUTHORIZED', message: 'bad token' } })).toEqual({
      kind: 'error',
      code: 'UNAUTHORIZED',
      message: 'bad token',
    });
    // A bare message (no frame around it) and unknown frame types are not this worker's frames.
    expect(read(message)).toEqual({ kind: 'ignore' });
    expect(read({ type: 'ok', ref: 1 })).toEqual({ kind: 'ignore' });
    expect(read('not json')).toEqual({ kind: 'ignore' });
  });

  it('completes messages sent by audience, and the room the socket leaves out', () => {
    const reader = new FrameReader('lab');
    const read = (frame: unknown) => readFeedFrame(JSON.stringify(frame), reader);
    const { room: _room, recipients: _recipients, ...wire } = { ...message, sender: 'c' };
    // A message naming an audience the socket never got cannot be completed: the feed must reopen.
    expect(read({ type: 'message', audience: 1, message: wire } satisfies MessageFrame)).toMatchObject({ kind: 'broken' });
    const audience: AudienceFrame = { type: 'audience', audience: 1, members: ['a', 'b', 'c', 'd'], routing: message.routing };
    expect(read(audience)).toEqual({ kind: 'ignore' });
    expect(read({ type: 'message', audience: 1, message: wire } satisfies MessageFrame)).toEqual({
      kind: 'message',
      message: { ...message, sender: 'c', recipients: ['a', 'b', 'd'] },
    });
    expect(read({ type: 'message', audience: 1, withSender: true, message: wire } satisfies MessageFrame)).toEqual({
      kind: 'message',
      message: { ...message, sender: 'c', recipients: ['a', 'b', 'c', 'd'] },
    });
    // Routed as the audience frame says: the frame leaves `routing` out, and the reader takes the audience's.
    const { routing: _routing, ...bare } = wire;
    expect(read({ type: 'message', audience: 1, message: bare } satisfies MessageFrame)).toEqual({
      kind: 'message',
      message: { ...message, sender: 'c', recipients: ['a', 'b', 'd'] },
    });
  });
});
