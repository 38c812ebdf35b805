import { FrameReader } from 'modular-message-bus-library/client';
import { describe, expect, it } from 'vitest';
import { readFeedFrame, readMessage } from './normalize.js';

const base = {
  id: 5,
  room: 'crew',
  timestamp: 1,
  sender: 'r1',
  content: 'found it',
  recipients: ['planner'],
  routing: { policy: 'addressed', requested: ['planner'] },
};

describe('reading the conversation fields of a message', () => {
  it('keeps inReplyTo, thread and metadata as the API sends them', () => {
    expect(readMessage({ ...base, inReplyTo: 3, thread: 2, metadata: { kind: 'answer' } })).toMatchObject({
      inReplyTo: 3,
      thread: 2,
      metadata: { kind: 'answer' },
    });
  });

  it('refuses a message whose conversation fields are malformed', () => {
    expect(readMessage({ ...base, inReplyTo: 'three' })).toBeNull();
    expect(readMessage({ ...base, thread: -1 })).toBeNull();
    expect(readMessage({ ...base, metadata: ['kind'] })).toBeNull();
  });

  it('carries them through the events feed', () => {
    const frame = readFeedFrame(
      JSON.stringify({ type: 'message', message: { ...base, inReplyTo: 4, thread: 4, metadata: { kind: 'tool_call' } } }),
      new FrameReader('lab'),
    );
    expect(frame).toMatchObject({ kind: 'message', message: { inReplyTo: 4, thread: 4, metadata: { kind: 'tool_call' } } });
  });
});
