/**
 * Reading the worker's WebSocket frames (docs/worker.md, "WebSockets"). A `message` frame leaves out what its
 * socket already knows, so that one frame text serves every socket of the room:
 *
 * - `room`: the socket's own room;
 * - `recipients`, when the list is long: the worker sends it once as an `audience` frame
 *   (`{"type":"audience","audience":3,"members":["ana","ben",…],"routing":{…}}`) and each message to that
 *   audience names it (`{"type":"message","audience":3,"message":{…}}`). The recipients are the audience's
 *   members, in their order, without the message's sender; with `"withSender": true`, all of them;
 * - `routing`, in a message that names an audience and was routed as the audience frame says;
 * - `thread`, when it is the message's own id (a message that answers nothing is its own thread).
 *
 * `FrameReader` puts all four back, so the reader gets each `StoredMessage` exactly as the room stored it.
 */
import { MessageBusError } from '../core/errors.js';
import type { StoredMessage } from '../core/types.js';

/**
 * The recipients a `message` frame that names an audience stands for: the audience's members in their order,
 * without the sender unless `withSender`. The worker checks every audience it sends against this function.
 */
export function audienceRecipients(members: readonly string[], sender: string, withSender: boolean): string[] {
  return withSender ? [...members] : members.filter((id) => id !== sender);
}

/** A parsed server frame; a `message` frame's `message` is complete (with `room` and `recipients`). */
export type ReadFrame = { type?: unknown; message?: StoredMessage } & Record<string, unknown>;

/**
 * Reads the frames of ONE WebSocket connection, in the order they arrived: an audience is known only on the
 * connection that received it, so open a new reader for each connection.
 *
 * @example
 * ```ts
 * const reader = new FrameReader('lobby');
 * ws.onmessage = (event) => {
 *   const frame = reader.read(String(event.data));
 *   if (frame?.type === 'message') console.log(frame.message.id, frame.message.recipients);
 * };
 * ```
 */
export class FrameReader {
  readonly #room: string;
  /** The worker sends a socket one audience at a time: the latest replaces the one before. */
  #audience: { id: number; members: readonly string[]; routing: unknown } | undefined;

  /** `room` is the room of the socket, filled in where a message frame leaves it out. */
  constructor(room: string) {
    this.#room = room;
  }

  /**
   * Parses one frame. Returns `undefined` for text that is not a JSON object. An `audience` frame is remembered
   * (and returned as it is). A `message` frame that names an audience this connection never received is a broken
   * stream: that throws `INVALID_MESSAGE`, and the caller should drop the connection and resume from the last id
   * it delivered.
   */
  read(text: string): ReadFrame | undefined {
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (!isObject(frame)) return undefined;
    if (frame.type === 'audience') {
      if (typeof frame.audience === 'number' && isStrings(frame.members)) {
        this.#audience = { id: frame.audience, members: frame.members, routing: frame.routing };
      }
      return frame;
    }
    if (frame.type !== 'message' || !isObject(frame.message)) return frame;
    return { ...frame, message: this.#complete(frame.message, frame.audience, frame.withSender === true) };
  }

  // --- internal helpers ---

  #complete(wire: Record<string, unknown>, audience: unknown, withSender: boolean): StoredMessage {
    const { id, room, timestamp, sender, content, recipients, routing, thread, ...rest } = wire;
    let list = recipients;
    let routed = routing;
    if (list === undefined && audience !== undefined) {
      if (this.#audience === undefined || this.#audience.id !== audience) {
        throw new MessageBusError(
          'INVALID_MESSAGE',
          `[remote] message ${String(id)} names audience ${String(audience)}, which this connection has not received: reconnect`,
        );
      }
      list = audienceRecipients(this.#audience.members, String(sender), withSender);
      routed ??= this.#audience.routing;
    }
    // The stored field order: id, room, timestamp, sender, content, recipients, routing, thread, then the optional ones.
    return {
      id,
      room: room ?? this.#room,
      timestamp,
      sender,
      content,
      recipients: list,
      routing: routed,
      thread: thread ?? id,
      ...rest,
    } as unknown as StoredMessage;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}
