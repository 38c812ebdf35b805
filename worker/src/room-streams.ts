/**
 * Streams in a room object: the `stream-*` frames of agent and stream sockets
 * act on `MessageStream`s of the room's bus, and every stream event of the
 * bus goes out once, as one `stream` frame, to the sockets of the stream's
 * sender and recipients and to the events feed. A socket that opens
 * mid-stream gets a `start` with all text so far, and the `abort` of a stream
 * aborted within STREAM_IDLE_MS + 5 s (which a reconnecting recipient missed). The limits
 * (MAX_OPEN_STREAMS_PER_AGENT, MAX_STREAM_DELTAS_PER_SECOND, MAX_CONTENT_BYTES)
 * are counted in `mmb_limit_rejections_total`. The journal tells the sockets
 * of a new instance which streams the last one lost (abort `RESTARTED`); an
 * alarm while streams are open makes sure a new instance is built, and tells
 * them, within STREAM_IDLE_MS of a restart even when no request comes.
 */
import {
  Message,
  type MessageBus,
  MessageBusError,
  type MessageOptions,
  type MessageStream,
  type StoredMessage,
  type StreamEvent,
  type StreamInfo,
} from 'modular-message-bus-library';
import type { JsonValue, LimitName, StreamFrame, StreamOpened } from './contract.js';
import type { Limits } from './env.js';
import { TokenBuckets } from './rate-limit.js';
import type { SocketHub } from './sockets.js';
import { StreamJournal } from './stream-journal.js';
import { WriteOrder } from './write-order.js';

/** What `stream-start` carries (read by input.ts like a send, content defaulting to ''). */
export interface StreamStartInput {
  content: JsonValue;
  recipients?: string[];
  idempotencyKey?: string;
  inReplyTo?: number;
  metadata?: MessageOptions['metadata'];
}

/** How long a lost stream is still reported to sockets that open, beyond STREAM_IDLE_MS. */
const LOST_GRACE_MS = 5000;
/** Ended streams whose message a resent `stream-end` gets back. */
const ENDED_KEPT = 256;
/** How far ahead of the applied writes a numbered write may arrive and wait for its turn. */
const MAX_WRITES_AHEAD = 1024;

interface OpenStream {
  stream: MessageStream;
  sender: string;
  order: WriteOrder;
}

export class RoomStreams {
  readonly #ctx: DurableObjectState;
  readonly #sockets: SocketHub;
  readonly #limits: Limits;
  readonly #countLimit: (limit: LimitName) => void;
  readonly #journal: StreamJournal;
  readonly #deltas: TokenBuckets;
  readonly #open = new Map<string, OpenStream>();
  readonly #openPerAgent = new Map<string, number>();
  readonly #ended = new Map<string, { sender: string; message: StoredMessage }>();
  /** Streams aborted lately, told to sockets that open soon after (a recipient reconnecting missed the abort). */
  readonly #aborted = new Map<string, { sender: string; recipients: readonly string[]; json: string; at: number }>();
  #bus: MessageBus | undefined;

  constructor(ctx: DurableObjectState, sockets: SocketHub, limits: Limits, countLimit: (limit: LimitName) => void) {
    this.#ctx = ctx;
    this.#sockets = sockets;
    this.#limits = limits;
    this.#countLimit = countLimit;
    this.#deltas = new TokenBuckets(limits.maxStreamDeltasPerSecond, limits.maxStreamDeltasPerSecond);
    const now = Date.now();
    this.#journal = new StreamJournal(ctx.storage.sql, limits.streamIdleMs + LOST_GRACE_MS, now);
    // Sockets that outlived the last instance (a wake from hibernation) hear now of what it lost.
    for (const lost of this.#journal.lost()) {
      if (lost.lostAt === now) this.#sockets.sendStream(lost.sender, lost.recipients, abortFrame(lost.id));
    }
    this.#armPurge(now);
  }

  /** Forwards the stream events of `bus` (the room's bus, replaced when the routing changes). */
  attach(bus: MessageBus): void {
    this.#bus = bus;
    bus.on('stream', (event, info) => this.#forward(event, info));
  }

  async start(sender: string, input: StreamStartInput): Promise<StreamOpened> {
    const bus = this.#requireBus();
    const open = this.#openPerAgent.get(sender) ?? 0;
    if (open >= this.#limits.maxOpenStreamsPerAgent) {
      this.#countLimit('streams');
      throw new MessageBusError(
        'RATE_LIMITED',
        `agent "${sender}" has ${open} open streams, its limit (MAX_OPEN_STREAMS_PER_AGENT): end or abort one first`,
        { details: { limit: this.#limits.maxOpenStreamsPerAgent } },
      );
    }
    const options: MessageOptions = {};
    if (input.idempotencyKey !== undefined) options.idempotencyKey = input.idempotencyKey;
    if (input.inReplyTo !== undefined) options.inReplyTo = input.inReplyTo;
    if (input.metadata !== undefined) options.metadata = input.metadata;
    let stream: MessageStream;
    try {
      stream = await bus.stream(new Message(sender, input.content, input.recipients, options));
    } catch (error) {
      if (MessageBusError.is(error, 'CONTENT_TOO_LARGE')) this.#countLimit('content');
      throw error;
    }
    if (stream.open) this.#open.set(stream.id, { stream, sender, order: new WriteOrder(MAX_WRITES_AHEAD) });
    return { id: stream.id, recipients: stream.recipients, maxContentBytes: this.#limits.maxContentBytes };
  }

  /**
   * Appends to a stream of `sender`. With `seq` (1, 2, 3... per stream), writes are applied in that order
   * whatever order they arrive in, and one resent after a reconnect is not applied twice. Past
   * MAX_STREAM_DELTAS_PER_SECOND the stream is aborted with RATE_LIMITED.
   */
  write(sender: string, streamId: string, seq: number | undefined, text: string): void {
    const entry = this.#own(sender, streamId);
    if (this.#deltas.take(sender) > 0) {
      this.#countLimit('stream-deltas');
      entry.stream.abortIfOpen('RATE_LIMITED');
      throw new MessageBusError(
        'RATE_LIMITED',
        `agent "${sender}" writes more than ${this.#limits.maxStreamDeltasPerSecond} deltas per second (MAX_STREAM_DELTAS_PER_SECOND): stream ${streamId} was aborted; coalesce writes`,
      );
    }
    const due = seq === undefined ? [text] : entry.order.offer(seq, text, entry.stream.seq);
    if (due === undefined) {
      throw new MessageBusError('INVALID_ARGUMENT', `stream ${streamId} is at write ${entry.stream.seq}; seq ${seq} is too far ahead`);
    }
    try {
      for (const piece of due) entry.stream.write(piece);
    } catch (error) {
      if (MessageBusError.is(error, 'CONTENT_TOO_LARGE')) this.#countLimit('content');
      throw error;
    } finally {
      entry.order.applied(entry.stream.seq);
    }
  }

  /**
   * Stores the stream, once the writes up to `seq` (the last one's, when given) are in; a `stream-end` resent
   * after it ended gets the same message.
   */
  async end(sender: string, streamId: string, seq: number | undefined, content: { value: JsonValue } | undefined): Promise<StoredMessage> {
    const ended = this.#ended.get(streamId);
    if (ended && ended.sender === sender) return ended.message;
    const entry = this.#own(sender, streamId);
    if (seq !== undefined) await entry.order.until(seq, entry.stream.seq);
    try {
      return await this.#own(sender, streamId).stream.end(content?.value);
    } catch (error) {
      if (MessageBusError.is(error, 'CONTENT_TOO_LARGE')) this.#countLimit('content');
      throw error;
    }
  }

  async abort(sender: string, streamId: string, reason: string | undefined): Promise<void> {
    await this.#own(sender, streamId).stream.abort(reason);
  }

  /** A socket just opened: a `start` with all text so far for each stream in flight it may see, and the lost ones. */
  resume(ws: WebSocket, agent: string | null): void {
    const bus = this.#bus;
    if (!bus) return;
    for (const snapshot of bus.openStreams(agent ?? undefined))
      this.#sockets.sendRaw(ws, JSON.stringify({ type: 'stream', event: snapshot }));
    for (const lost of this.#journal.lost()) {
      if (agent === null || lost.sender === agent || lost.recipients.includes(agent)) this.#sockets.sendRaw(ws, abortFrame(lost.id));
    }
    const since = Date.now() - this.#limits.streamIdleMs - LOST_GRACE_MS;
    for (const [id, aborted] of this.#aborted) {
      if (aborted.at < since) this.#aborted.delete(id);
      else if (agent === null || aborted.sender === agent || aborted.recipients.includes(agent)) this.#sockets.sendRaw(ws, aborted.json);
    }
  }

  /** The room's alarm: keeps one due while streams are open (see the top), and forgets lost streams in time. */
  alarm(): void {
    const now = Date.now();
    const purgeAt = this.#journal.purge(now);
    if (this.#open.size > 0) void this.#ctx.storage.setAlarm(now + this.#limits.streamIdleMs);
    else if (purgeAt !== undefined) void this.#ctx.storage.setAlarm(purgeAt);
  }

  // --- internal helpers ---

  #forward(event: StreamEvent, info: StreamInfo): void {
    const json = event.type === 'delta' ? deltaFrame(event.streamId, event.seq, event.text) : JSON.stringify(streamFrame(event, info));
    this.#sockets.sendStream(info.sender, info.recipients, json, event.type === 'delta');
    if (event.type === 'start' && info.seq === 0) {
      this.#openPerAgent.set(info.sender, (this.#openPerAgent.get(info.sender) ?? 0) + 1);
      this.#journal.opened({ id: event.streamId, sender: info.sender, recipients: [...info.recipients] });
      void this.#ctx.storage.setAlarm(Date.now() + this.#limits.streamIdleMs);
    } else if (event.type === 'end' || event.type === 'abort') {
      this.#open.get(event.streamId)?.order.clear();
      this.#open.delete(event.streamId);
      const open = (this.#openPerAgent.get(info.sender) ?? 1) - 1;
      if (open > 0) this.#openPerAgent.set(info.sender, open);
      else this.#openPerAgent.delete(info.sender);
      this.#journal.closed(event.streamId);
      if (event.type === 'end') {
        if (this.#ended.size >= ENDED_KEPT) this.#ended.delete(this.#ended.keys().next().value as string);
        this.#ended.set(event.streamId, { sender: info.sender, message: event.message });
      } else {
        if (this.#aborted.size >= ENDED_KEPT) this.#aborted.delete(this.#aborted.keys().next().value as string);
        this.#aborted.set(event.streamId, { sender: info.sender, recipients: info.recipients, json, at: Date.now() });
      }
    }
  }

  /** The open stream `streamId` of `sender`; anything else (another agent's, ended, unknown) is `CLOSED`, naming nothing. */
  #own(sender: string, streamId: string): OpenStream {
    const entry = this.#open.get(streamId);
    if (!entry || entry.sender !== sender || !entry.stream.open) {
      throw new MessageBusError(
        'CLOSED',
        `stream ${streamId} is not an open stream of agent "${sender}": start one with a stream-start frame`,
      );
    }
    return entry;
  }

  #requireBus(): MessageBus {
    if (!this.#bus) throw new MessageBusError('MISCONFIGURED', '[mmb-worker] the room object has no bus yet');
    return this.#bus;
  }

  #armPurge(now: number): void {
    const purgeAt = this.#journal.purge(now);
    if (purgeAt !== undefined) void this.#ctx.storage.setAlarm(purgeAt);
  }
}

function streamFrame(event: StreamEvent, info: StreamInfo): StreamFrame {
  return { type: 'stream', event: event.type === 'start' ? { ...event, seq: info.seq } : event };
}

/**
 * The text of `JSON.stringify(streamFrame(delta))`, built around the one string that needs escaping: the frame every
 * recipient gets for each delta, the hot path of a stream.
 */
function deltaFrame(streamId: string, seq: number, text: string): string {
  return `{"type":"stream","event":{"type":"delta","streamId":${JSON.stringify(streamId)},"seq":${seq},"text":${JSON.stringify(text)}}}`;
}

function abortFrame(streamId: string): string {
  return JSON.stringify({ type: 'stream', event: { type: 'abort', streamId, reason: 'RESTARTED' } } satisfies StreamFrame);
}
