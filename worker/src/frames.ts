import type { AckResponse, ErrorBody, ErrorFrame, LimitName, OkFrame, Outcome, SendInput, StoredMessage } from './contract.js';
import { fail } from './errors.js';

/** What a socket's frames may do, bound to the socket's room and agent by the room object. */
export interface FrameActions {
  send(input: SendInput): Promise<Outcome<StoredMessage>>;
  ack(upTo: number): Promise<Outcome<AckResponse>>;
  countLimit(limit: LimitName): void;
}

/** The socket a frame came in on, as far as answering it is concerned. */
export interface FrameSource {
  /** `events` feeds and `watch` sockets are read-only: only `ping`. */
  kind: 'agent' | 'watch' | 'events';
  /** MAX_BODY_BYTES: a longer frame is refused unread. */
  maxBytes: number;
}

/**
 * Answers one client frame (see `ClientFrame` in contract.ts): `send`, `ack`
 * and `ping` on agent sockets, only `ping` on the events feed. Every answer
 * carries the frame's `ref`; a frame too broken to have one gets `ref: null`.
 */
export async function answerFrame(data: string | ArrayBuffer, source: FrameSource, actions: FrameActions): Promise<OkFrame | ErrorFrame> {
  const refuse = (ref: unknown, error: ErrorBody): ErrorFrame => ({ type: 'error', ref, error });
  if (typeof data !== 'string') return refuse(null, fail('INVALID_MESSAGE', 'send JSON text frames, not binary'));
  if (data.length > source.maxBytes) {
    actions.countLimit('body');
    return refuse(null, fail('CONTENT_TOO_LARGE', `the frame is over ${source.maxBytes} bytes (MAX_BODY_BYTES)`));
  }
  const frame = parseObject(data);
  if (!frame) return refuse(null, fail('INVALID_MESSAGE', 'frames are JSON objects like {"type":"send","ref":1,"content":"hi"}'));
  const ref = frame.ref ?? null;
  if (frame.type === 'ping') return { type: 'ok', ref };
  if (source.kind !== 'agent') {
    const what = source.kind === 'events' ? 'the events feed' : 'a watch socket';
    return refuse(ref, fail('INVALID_MESSAGE', `${what} is read-only: only "ping" frames are accepted`));
  }
  if (frame.type === 'send') {
    const input: SendInput = { content: frame.content as SendInput['content'] };
    if (frame.recipients !== undefined) input.recipients = frame.recipients as string[];
    if (frame.idempotencyKey !== undefined) input.idempotencyKey = frame.idempotencyKey as string;
    if (frame.inReplyTo !== undefined) input.inReplyTo = frame.inReplyTo as number;
    if (frame.metadata !== undefined) input.metadata = frame.metadata as NonNullable<SendInput['metadata']>;
    const outcome = await actions.send(input);
    return outcome.ok ? { type: 'ok', ref, message: outcome.value } : refuse(ref, outcome.error);
  }
  if (frame.type === 'ack') {
    const outcome = await actions.ack(frame.upTo as number);
    return outcome.ok ? { type: 'ok', ref, cursor: outcome.value.cursor } : refuse(ref, outcome.error);
  }
  return refuse(ref, fail('INVALID_MESSAGE', 'unknown frame type: use "send", "ack" or "ping"'));
}

// --- internal helpers ---

function parseObject(data: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(data);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
