/**
 * The room's live feed (`/v1/rooms/:room/events?after=N`) with reconnects:
 * after a drop it waits (backoff 0.5 s doubling to 8 s) and reopens from the
 * last id it delivered, so the dashboard sees no gap and no duplicate. The
 * admin token rides in the `bearer.<jwt>` subprotocol, never in the URL.
 */
import { FrameReader } from 'modular-message-bus-library/client';
import type { ApiClient } from './client.js';
import { type FeedFrame, readFeedFrame } from './normalize.js';
import type { RoomEvent, StoredMessage, StreamFeedEvent } from './types.js';

export type FeedStatus = 'connecting' | 'live' | 'reconnecting' | 'stopped';

export interface FeedHandlers {
  onMessages(messages: StoredMessage[]): void;
  onEvent(event: RoomEvent): void;
  /** A stream event (the stream store coalesces renders itself). */
  onStream(event: StreamFeedEvent): void;
  onStatus(status: FeedStatus, detail?: { code: string; message: string }): void;
}

/**
 * Messages are handed to the dashboard at most every FLUSH_MS (then on the next frame): at 100 messages/s that
 * is ten renders of ten rows instead of sixty layouts a second, for at most 0.1 s of extra delay.
 */
const FLUSH_MS = 100;

/** Close codes at or above 4000 are the worker's refusals (bad token, not an admin, unknown room): retrying cannot fix those quickly, so back off longer. */
const REFUSED_CLOSE = 4000;

export class EventsFeed {
  readonly #client: ApiClient;
  readonly #room: string;
  readonly #handlers: FeedHandlers;
  #after: number;
  #socket: WebSocket | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #delay = 500;
  #stopped = false;
  #attempts = 0;
  /** Messages received since the last hand-over, handed over together so a burst renders once. */
  #batch: StoredMessage[] = [];
  #flushScheduled = false;

  constructor(client: ApiClient, room: string, after: number, handlers: FeedHandlers) {
    this.#client = client;
    this.#room = room;
    this.#after = after;
    this.#handlers = handlers;
    this.#open();
  }

  /** Highest message id delivered so far. */
  get after(): number {
    return this.#after;
  }

  /** Drops the socket on purpose (used by the reconnect button); the feed reopens as after any drop. */
  reconnect(): void {
    this.#socket?.close(4999, 'reconnect requested');
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#socket?.close(1000, 'dashboard closed the room');
    this.#socket = null;
    this.#handlers.onStatus('stopped');
  }

  #open(): void {
    if (this.#stopped) return;
    if (++this.#attempts === 1) this.#handlers.onStatus('connecting');
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.#client.eventsUrl(this.#room, this.#after), this.#client.socketProtocols());
    } catch (error) {
      this.#handlers.onStatus('reconnecting', { code: 'NETWORK', message: String(error) });
      this.#schedule();
      return;
    }
    this.#socket = socket;
    let lastError: { code: string; message: string } | undefined;
    // Audiences are per connection: each socket gets its own reader.
    const reader = new FrameReader(this.#room);
    socket.onopen = () => {
      this.#delay = 500;
      this.#handlers.onStatus('live');
    };
    socket.onmessage = (event) => {
      if (typeof event.data !== 'string') return;
      const frame = readFeedFrame(event.data, reader);
      if (frame.kind === 'broken') {
        lastError = { code: 'INVALID_MESSAGE', message: frame.message };
        socket.close(4999, 'unreadable frame'); // reopens after the last delivered id
        return;
      }
      this.#frame(frame, (error) => {
        lastError = error;
      });
    };
    socket.onclose = (event) => {
      if (this.#socket !== socket || this.#stopped) return;
      this.#socket = null;
      this.#flush();
      const detail =
        lastError ??
        (event.code >= REFUSED_CLOSE && event.code !== 4999
          ? { code: `CLOSE_${event.code}`, message: event.reason || 'The worker closed the feed.' }
          : undefined);
      this.#handlers.onStatus('reconnecting', detail ?? { code: 'NETWORK', message: 'The live feed dropped; reconnecting.' });
      if (event.code >= REFUSED_CLOSE && event.code !== 4999) this.#delay = Math.max(this.#delay, 4000);
      this.#schedule();
    };
  }

  #frame(frame: FeedFrame, onError: (error: { code: string; message: string }) => void): void {
    if (frame.kind === 'message') {
      // Ids are per room and gap-free; anything at or below the last one is a replayed duplicate.
      if (frame.message.id <= this.#after) return;
      this.#after = frame.message.id;
      this.#batch.push(frame.message);
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setTimeout(() => queueFrame(() => this.#flush()), FLUSH_MS);
      }
    } else if (frame.kind === 'event') {
      this.#flush();
      this.#handlers.onEvent(frame.event);
    } else if (frame.kind === 'stream') {
      this.#handlers.onStream(frame.event);
    } else if (frame.kind === 'error') {
      onError({ code: frame.code, message: frame.message });
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#batch.length === 0) return;
    const batch = this.#batch;
    this.#batch = [];
    this.#handlers.onMessages(batch);
  }

  #schedule(): void {
    if (this.#stopped) return;
    const delay = this.#delay;
    this.#delay = Math.min(this.#delay * 2, 8000);
    this.#timer = setTimeout(() => this.#open(), delay);
  }
}

/** requestAnimationFrame when the tab is visible; a timer otherwise (hidden tabs get no frames, but the store must keep up). */
function queueFrame(callback: () => void): void {
  if (typeof document !== 'undefined' && document.visibilityState === 'visible' && typeof requestAnimationFrame === 'function') {
    requestAnimationFrame(callback);
  } else {
    setTimeout(callback, 50);
  }
}
