/**
 * The `stream-start`, `stream-write`, `stream-end` and `stream-abort` frames
 * (see `ClientFrame` in contract.ts): their fields read with the same rules
 * as a send (input.ts), then handed to the room's streams. Each is answered
 * `ok` or `error` with the frame's `ref`.
 */
import { exceedsContentDepth } from 'modular-message-bus-library';
import type { ErrorBody, FrameRef, JsonValue, OkFrame, Outcome, StoredMessage, StreamOpened } from './contract.js';
import { fail } from './errors.js';
import { readSendInput } from './input.js';
import type { StreamStartInput } from './room-streams.js';

/**
 * What stream frames may do, for the socket's room and agent. Like `FrameActions`, the room object makes one for
 * all its sockets: a delta builds nothing per frame.
 */
export interface StreamActions {
  start(room: string, agent: string, input: StreamStartInput): Promise<Outcome<StreamOpened>>;
  write(agent: string, streamId: string, seq: number | undefined, text: string): Outcome<void>;
  end(
    room: string,
    agent: string,
    streamId: string,
    seq: number | undefined,
    content: { value: JsonValue } | undefined,
  ): Promise<Outcome<StoredMessage>>;
  abort(room: string, agent: string, streamId: string, reason: string | undefined): Promise<Outcome<void>>;
}

/** The socket a stream frame came in on (its agent is passed on its own: the caller has checked it is not null). */
export interface StreamFrameSource {
  room: string;
  /** MAX_CONTENT_DEPTH, checked as on HTTP (input.ts). */
  maxContentDepth: number;
}

export const STREAM_FRAMES = new Set(['stream-start', 'stream-write', 'stream-end', 'stream-abort']);

/** Answers a stream frame of `agent`'s socket; `refuse` builds the error frame. Nothing is allocated for the source. */
export async function answerStreamFrame(
  frame: Record<string, unknown>,
  ref: FrameRef,
  agent: string,
  source: StreamFrameSource,
  actions: StreamActions,
): Promise<OkFrame | ErrorBody> {
  const { room, maxContentDepth } = source;
  if (frame.type === 'stream-start') {
    const input = readSendInput({ ...frame, content: frame.content ?? '' }, maxContentDepth);
    if (!input.ok) return input.error;
    const outcome = await actions.start(room, agent, input.value);
    return outcome.ok ? { type: 'ok', ref, stream: outcome.value } : outcome.error;
  }
  const streamId = frame.streamId;
  if (typeof streamId !== 'string' || streamId.length === 0 || streamId.length > 128) {
    return fail('INVALID_ARGUMENT', 'streamId must be the id a stream-start answered with');
  }
  const seq = frame.seq;
  if (seq !== undefined && (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1)) {
    return fail('INVALID_ARGUMENT', 'seq must be a positive integer: 1 for the first write of a stream, then 2, 3...');
  }
  if (frame.type === 'stream-write') {
    const text = frame.text;
    if (typeof text !== 'string') return fail('INVALID_ARGUMENT', 'a stream-write needs "text": a string');
    const outcome = actions.write(agent, streamId, seq as number | undefined, text);
    return outcome.ok ? { type: 'ok', ref } : outcome.error;
  }
  if (frame.type === 'stream-end') {
    const has = Object.hasOwn(frame, 'content');
    if (has && exceedsContentDepth(frame.content, maxContentDepth)) {
      return fail('INVALID_MESSAGE', `content nests arrays and objects deeper than ${maxContentDepth} levels (MAX_CONTENT_DEPTH)`);
    }
    const outcome = await actions.end(
      room,
      agent,
      streamId,
      seq as number | undefined,
      has ? { value: frame.content as JsonValue } : undefined,
    );
    return outcome.ok ? { type: 'ok', ref, message: outcome.value } : outcome.error;
  }
  const reason = frame.reason;
  if (reason !== undefined && typeof reason !== 'string') return fail('INVALID_ARGUMENT', 'reason must be a string');
  const outcome = await actions.abort(room, agent, streamId, reason);
  return outcome.ok ? { type: 'ok', ref } : outcome.error;
}
