import { FrameReader } from 'modular-message-bus-library/client';
import type { StreamFrame } from 'modular-message-bus-worker/contract';
import { describe, expect, it } from 'vitest';
import { readFeedFrame, readMessage } from './normalize.js';

const frame = (event: unknown) => JSON.stringify({ type: 'stream', event });

describe('reading stream frames of the events feed', () => {
  it('reads start, delta, end and abort as the worker sends them (StreamFrame)', () => {
    const start: StreamFrame = {
      type: 'stream',
      event: { type: 'start', streamId: 's1', sender: 'writer', recipients: ['critic'], text: 'He', seq: 0 },
    };
    expect(readFeedFrame(JSON.stringify(start), new FrameReader('lab'))).toEqual({ kind: 'stream', event: start.event });
    expect(readFeedFrame(frame({ type: 'delta', streamId: 's1', seq: 1, text: 'llo' }), new FrameReader('lab'))).toMatchObject({
      kind: 'stream',
    });
    expect(readFeedFrame(frame({ type: 'abort', streamId: 's1', reason: 'IDLE' }), new FrameReader('lab'))).toMatchObject({
      kind: 'stream',
    });
    const message = {
      id: 1,
      room: 'r',
      timestamp: 1,
      sender: 'writer',
      content: 'Hello',
      recipients: ['critic'],
      routing: { policy: 'addressed', requested: ['critic'] },
      thread: 1,
      streamId: 's1',
    };
    expect(readFeedFrame(frame({ type: 'end', streamId: 's1', message }), new FrameReader('lab'))).toMatchObject({ kind: 'stream' });
    expect(readMessage(message)?.streamId).toBe('s1');
  });

  it('drops stream frames that are not of that shape', () => {
    for (const event of [
      { type: 'start', streamId: 's1', sender: 'writer', recipients: 'critic', text: '', seq: 0 },
      { type: 'delta', streamId: 's1', text: 'x' },
      { type: 'end', streamId: 's1', message: { id: 'x' } },
      { type: 'abort', streamId: 's1' },
      { type: 'dance', streamId: 's1' },
      { type: 'delta', seq: 1, text: 'x' },
    ]) {
      expect(readFeedFrame(frame(event), new FrameReader('lab'))).toEqual({ kind: 'ignore' });
    }
  });
});
