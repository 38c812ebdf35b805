import { describe, expect, it } from 'vitest';
import { readFeedFrame, readMessage } from './normalize.js';

const base = { id: 5, room: 'crew', timestamp: 1, sender: 'r1', content: 'found it', recipients: ['planner'] };

describe('reading the conversation fields of a message', () => {
  it('keeps inReplyTo, thread and metadata as the API sends them', () => {
    const message = readMessage({
      ...base,
      routing: { policy: 'addressed', requested: ['planner'] },
      inReplyTo: 3,
      thread: 2,
      metadata: { kind: 'answer' },
    });
    expect(message).toMatchObject({ inReplyTo: 3, thread: 2, metadata: { kind: 'answer' } });
  });

  it('reads a message from before threads as its own root, and drops malformed fields', () => {
    const message = readMessage({ ...base, inReplyTo: 'three', thread: -1, metadata: ['kind'] });
    expect(message?.thread).toBe(5);
    expect(message && 'inReplyTo' in message).toBe(false);
    expect(message && 'metadata' in message).toBe(false);
  });

  it('carries them through the events feed', () => {
    const frame = readFeedFrame(
      JSON.stringify({ type: 'message', message: { ...base, inReplyTo: 4, thread: 4, metadata: { kind: 'tool_call' } } }),
    );
    expect(frame).toMatchObject({ kind: 'message', message: { inReplyTo: 4, thread: 4, metadata: { kind: 'tool_call' } } });
  });
});
