import { describe, expect, it } from 'vitest';
import { readFeedFrame, readRoomDetail, readRooms } from './normalize.js';

describe('admin API readers', () => {
  it('reads the rooms list with the policy under "routing"', () => {
    expect(readRooms({ rooms: [{ room: 'lab', routing: 'subgroup', members: 4, online: 3, lastId: 9, sockets: 2 }] })).toEqual([
      { room: 'lab', policy: 'subgroup', members: 4, online: 3, lastId: 9 },
    ]);
  });

  it('reads a room with members, cursor, lag and last sent time', () => {
    const detail = readRoomDetail(
      {
        room: 'lab',
        routing: 'broadcast',
        lastId: 5,
        oldestId: 1,
        members: [
          { id: 'b', online: false, groups: [], cursor: 1, lastRoutedId: 5, lag: 4, sentCount: 0, lastSentAt: null },
          { id: 'a', online: true, groups: ['g'], cursor: 5, lag: 0, sentCount: 2, lastSentAt: 10 },
        ],
      },
      'lab',
    );
    expect(detail.policy).toBe('broadcast');
    expect(detail.members.map((m) => [m.id, m.online, m.lag, m.lastSentAt, m.sentCount])).toEqual([
      ['a', true, 0, 10, 2],
      ['b', false, 4, null, 0],
    ]);
  });

  it('tells message, presence and error frames apart', () => {
    const message = {
      id: 3,
      room: 'lab',
      timestamp: 1,
      sender: 'a',
      content: 'hi',
      recipients: ['b'],
      routing: { policy: 'broadcast', requested: null },
    };
    expect(readFeedFrame(JSON.stringify({ type: 'message', message }))).toMatchObject({ kind: 'message', message: { id: 3, sender: 'a' } });
    expect(readFeedFrame(JSON.stringify({ type: 'presence', agent: 'b', online: false }))).toMatchObject({
      kind: 'event',
      event: { type: 'presence', agent: 'b', online: false },
    });
    expect(readFeedFrame(JSON.stringify({ type: 'error', error: { code: 'UNAUTHORIZED', message: 'bad token' } }))).toEqual({
      kind: 'error',
      code: 'UNAUTHORIZED',
      message: 'bad token',
    });
    expect(readFeedFrame('not json')).toEqual({ kind: 'ignore' });
  });
});
