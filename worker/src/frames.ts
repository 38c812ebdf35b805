import type { AckResponse, ErrorBody, ErrorFrame, FrameRef, LimitName, OkFrame, Outcome, SendInput, StoredMessage } from './contract.js';
import { fail } from './errors.js';
import { readRef, readSendInput, readUpTo } from './input.js';
import { answerStreamFrame, STREAM_FRAMES, type StreamActions } from './stream-frames.js';

/**
 * What a socket's frames may do, for the socket's room and agent (from `FrameSource`). The room object makes
 * one for all its sockets: nothing is built per frame.
 */
export interface FrameActions {
  send(room: string, agent: string, input: SendInput): Promise<Outcome<StoredMessage>>;
  ack(room: string, agent: string, upTo: number): Promise<Outcome<AckResponse>>;
  countLimit(limit: LimitName): void;
  streams: StreamActions;
}

/** The socket a frame came in on, as far as answering it is concerned. */
export interface FrameSource {
  /** `events` feeds and `watch` sockets are read-only: only `ping`. `stream` sockets take `ping` and the stream frames. */
  kind: 'agent' | 'watch' | 'stream' | 'events';
  room: string;
  /** The socket's agent (`null` on the events feed). */
  agent: string | null;
  /** MAX_BODY_BYTES: a longer frame is refused unread. */
  maxBytes: number;
  /** MAX_CONTENT_DEPTH, checked as on HTTP (input.ts). */
  maxContentDepth: number;
}

/**
 * Answers one client frame (see `ClientFrame` in contract.ts): `send`, `ack`,
 * `ping` and the stream frames on agent sockets, `ping` and the stream frames
 * on stream sockets, only `ping` on watch sockets and the events feed. Every answer
 * carries the frame's `ref`; a frame too broken to have a usable one gets `ref: null`.
 * Sends and acks are read by the same functions as their HTTP routes.
 */
export async function answerFrame(data: string | ArrayBuffer, source: FrameSource, actions: FrameActions): Promise<OkFrame | ErrorFrame> {
  if (typeof data !== 'string') return refuse(null, fail('INVALID_MESSAGE', 'send JSON text frames, not binary'));
  if (data.length > source.maxBytes) {
    actions.countLimit('body');
    return refuse(null, fail('CONTENT_TOO_LARGE', `the frame is over ${source.maxBytes} bytes (MAX_BODY_BYTES)`));
  }
  const frame = parseObject(data);
  if (!frame) return refuse(null, fail('INVALID_MESSAGE', 'frames are JSON objects like {"type":"send","ref":1,"content":"hi"}'));
  const tag = readRef(frame.ref);
  if (!tag.usable) return refuse(null, fail('INVALID_MESSAGE', 'ref must be a string of at most 128 characters or a number'));
  const { ref } = tag;
  if (frame.type === 'ping') return { type: 'ok', ref };
  if (source.kind === 'events' || source.agent === null) {
    return refuse(ref, fail('INVALID_MESSAGE', 'the events feed is read-only: only "ping" frames are accepted'));
  }
  if (typeof frame.type === 'string' && STREAM_FRAMES.has(frame.type) && (source.kind === 'agent' || source.kind === 'stream')) {
    const answer = await answerStreamFrame(frame, ref, source.agent, source, actions.streams);
    return 'code' in answer ? refuse(ref, answer) : answer;
  }
  if (source.kind === 'stream') return refuse(ref, fail('INVALID_MESSAGE', 'a stream socket takes "ping" and the stream-* frames only'));
  if (source.kind === 'watch') return refuse(ref, fail('INVALID_MESSAGE', 'a watch socket is read-only: only "ping" frames are accepted'));
  if (frame.type === 'send') {
    const input = readSendInput(frame, source.maxContentDepth);
    if (!input.ok) return refuse(ref, input.error);
    const outcome = await actions.send(source.room, source.agent, input.value);
    return outcome.ok
      ? { type: 'ok', ref, id: outcome.value.id, timestamp: outcome.value.timestamp, thread: outcome.value.thread }
      : refuse(ref, outcome.error);
  }
  if (frame.type === 'ack') {
    const upTo = readUpTo(frame.upTo);
    if (!upTo.ok) return refuse(ref, upTo.error);
    const outcome = await actions.ack(source.room, source.agent, upTo.value);
    return outcome.ok ? { type: 'ok', ref, cursor: outcome.value.cursor } : refuse(ref, outcome.error);
  }
  return refuse(
    ref,
    fail(
      'INVALID_MESSAGE',
      'unknown frame type: use "send", "ack", "ping", "stream-start", "stream-write", "stream-end" or "stream-abort"',
    ),
  );
}

// --- internal helpers ---

function refuse(ref: FrameRef, error: ErrorBody): ErrorFrame {
  return { type: 'error', ref, error };
}

function parseObject(data: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(data);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
