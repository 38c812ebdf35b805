/**
 * The WebSocket a `RemoteMessageBus` writes one agent's streams on: a
 * `stream=1` socket (no messages, no effect on the agent's presence) shared
 * by that agent's streams. Frames carry a `ref`; each is answered `ok` or
 * `error` with it. After a dropped connection it reconnects with backoff and
 * sends again every frame not yet answered, in order: numbered writes and
 * `stream-end` are safe to repeat (the room drops a write it applied and
 * answers a repeated end with the same message), a `stream-start` is not, so
 * one in flight is rejected with `STORAGE_FAILURE` instead. It closes once no
 * stream of the agent is open and nothing waits for an answer.
 */
import { type ErrorCode, MessageBusError } from '../core/errors.js';
import type { StreamSignal } from '../core/types.js';
import type { WebSocketConstructorLike, WebSocketLike } from './transport.js';

const NAME = 'remote';
/** How long an idle stream socket stays open for the agent's next stream. */
const LINGER_MS = 2000;
/** Refusals after which reconnecting cannot help (the same as a subscription's). */
const FATAL_CLOSE = new Set([4400, 4401, 4403, 4404, 4410, 4500]);

/** What the socket needs from its bus. */
export interface StreamSocketParts {
  /** The socket URL and protocols for a new connection (a fresh token each time). */
  connect(): Promise<{ url: string; protocols: string[] }>;
  WebSocket: WebSocketConstructorLike;
  delay(attempt: number): number;
  /** A stream event for this agent (its own streams' aborts and ends matter to the writer). */
  onEvent(event: Exclude<StreamSignal, { type: 'sync' }>): void;
  /** `true` while a stream of the agent is open: the socket stays. */
  busy(): boolean;
  onClosed(): void;
}

interface Pending {
  json: string;
  /** Sent on some connection (so a start in flight is known to be in doubt after a drop). */
  sent: boolean;
  /** A start is not sent twice: a second one would open a second stream. */
  resend: boolean;
  resolve(answer: Record<string, unknown>): void;
  reject(error: MessageBusError): void;
}

export class StreamSocket {
  readonly #parts: StreamSocketParts;
  readonly #pending = new Map<number, Pending>();
  #ref = 0;
  #ws: WebSocketLike | undefined;
  #open = false;
  #connecting = false;
  #failures = 0;
  #closed = false;
  #linger: ReturnType<typeof setTimeout> | undefined;

  constructor(parts: StreamSocketParts) {
    this.#parts = parts;
  }

  /** Sends a frame and resolves with its `ok` answer; rejects with the `error` answer as a `MessageBusError`. */
  request(frame: Record<string, unknown>, resend = true): Promise<Record<string, unknown>> {
    if (this.#closed) return Promise.reject(closed());
    clearTimeout(this.#linger);
    const ref = ++this.#ref;
    const json = JSON.stringify({ ...frame, ref });
    return new Promise((resolve, reject) => {
      const pending: Pending = { json, sent: false, resend, resolve, reject };
      this.#pending.set(ref, pending);
      if (this.#open) this.#send(pending);
      else this.#connect();
    });
  }

  /** Closes at once; frames waiting for an answer reject with `CLOSED`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#linger);
    for (const pending of this.#pending.values()) pending.reject(closed());
    this.#pending.clear();
    const ws = this.#ws;
    this.#ws = undefined;
    try {
      ws?.close(1000, 'done');
    } catch {
      // Already closing.
    }
    this.#parts.onClosed();
  }

  /** No stream open and nothing pending: close after a short while, unless the agent streams again. */
  release(): void {
    if (this.#pending.size > 0 || this.#parts.busy()) return;
    clearTimeout(this.#linger);
    this.#linger = setTimeout(() => {
      if (this.#pending.size === 0 && !this.#parts.busy()) this.close();
    }, LINGER_MS);
  }

  // --- internal helpers ---

  #connect(): void {
    if (this.#connecting || this.#closed) return;
    this.#connecting = true;
    void this.#parts.connect().then(
      ({ url, protocols }) => {
        if (this.#closed) return;
        let ws: WebSocketLike;
        try {
          ws = new this.#parts.WebSocket(url, protocols);
        } catch (error) {
          this.#connecting = false;
          this.#fail(new MessageBusError('UNAUTHORIZED', `[${NAME}] the token cannot be sent on a WebSocket: ${String(error)}`));
          return;
        }
        this.#ws = ws;
        ws.onopen = () => {
          if (this.#ws !== ws) return;
          this.#connecting = false;
          this.#open = true;
          this.#failures = 0;
          // Everything not answered yet, in order: the room drops what it already applied.
          for (const [ref, pending] of [...this.#pending]) {
            if (pending.sent && !pending.resend) {
              this.#pending.delete(ref);
              pending.reject(
                new MessageBusError(
                  'STORAGE_FAILURE',
                  `[${NAME}] the connection dropped before the stream-start was answered: start again`,
                ),
              );
            } else this.#send(pending);
          }
        };
        ws.onmessage = (event) => this.#onFrame(event.data);
        ws.onclose = (event) => {
          if (this.#ws !== ws) return;
          this.#ws = undefined;
          this.#open = false;
          this.#connecting = false;
          if (this.#closed) return;
          if (FATAL_CLOSE.has(event.code)) {
            this.#fail(new MessageBusError('CLOSED', `[${NAME}] the server closed the stream socket (${event.code} ${event.reason})`));
            return;
          }
          if (this.#pending.size > 0 || this.#parts.busy()) setTimeout(() => this.#connect(), this.#parts.delay(this.#failures++));
          else this.close();
        };
        ws.onerror = () => {
          // A close event follows.
        };
      },
      (error: unknown) => {
        this.#connecting = false;
        this.#fail(MessageBusError.is(error) ? error : new MessageBusError('UNAUTHORIZED', `[${NAME}] no token: ${String(error)}`));
      },
    );
  }

  #send(pending: Pending): void {
    pending.sent = true;
    try {
      this.#ws?.send(pending.json);
    } catch {
      // The close event reconnects and sends it again.
    }
  }

  #onFrame(data: unknown): void {
    let frame: { type?: string; ref?: unknown; event?: Exclude<StreamSignal, { type: 'sync' }>; error?: ErrorBody };
    try {
      frame = JSON.parse(typeof data === 'string' ? data : String(data));
    } catch {
      return;
    }
    if (frame.type === 'stream' && frame.event) {
      this.#parts.onEvent(frame.event);
      return;
    }
    if (frame.type === 'error' && frame.ref === null && frame.error) {
      // A refused socket (its close follows): nothing pending can succeed on it.
      if (FATAL_ERRORS.has(frame.error.code)) this.#fail(errorOf(frame.error));
      return;
    }
    if (typeof frame.ref !== 'number') return;
    const pending = this.#pending.get(frame.ref);
    if (!pending) return;
    this.#pending.delete(frame.ref);
    if (frame.type === 'ok') pending.resolve(frame as Record<string, unknown>);
    else if (frame.error) pending.reject(errorOf(frame.error));
    this.release();
  }

  /** The socket cannot work (refused, no token): everything pending rejects with `error`, and it closes. */
  #fail(error: MessageBusError): void {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
    this.close();
  }
}

type ErrorBody = { code: ErrorCode; message: string } & Record<string, unknown>;

const FATAL_ERRORS = new Set<ErrorCode>(['UNAUTHORIZED', 'FORBIDDEN', 'UNKNOWN_AGENT', 'MISCONFIGURED']);

function errorOf(body: ErrorBody): MessageBusError {
  const { code, message, ...details } = body;
  return new MessageBusError(code, message, { details });
}

function closed(): MessageBusError {
  return new MessageBusError('CLOSED', `[${NAME}] the stream socket was closed: the RemoteMessageBus closed or the stream ended`);
}
