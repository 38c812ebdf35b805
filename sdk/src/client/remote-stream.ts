import { MessageBusError } from '../core/errors.js';
import { admitWrite, TextJsonSize, type WritableStream } from '../core/stream/text-size.js';
import type { JsonValue, StoredMessage } from '../core/types.js';
import type { StreamSocket } from './stream-socket.js';

/** Consecutive writes within this long go out as one frame: a fast model stays under MAX_STREAM_DELTAS_PER_SECOND. */
export const COALESCE_MS = 25;
const MAX_REASON = 256;

type State = 'open' | 'ending' | 'sealed' | 'ended' | 'aborted';

/**
 * `MessageStream`'s API over the worker (`RemoteMessageBus.stream`).
 * `write` is synchronous; writes are coalesced into at most one
 * `stream-write` frame per 25 ms, numbered so the room applies them in order
 * and once. The room enforces the limits: a stream it aborts (`RATE_LIMITED`,
 * `CONTENT_TOO_LARGE`, `IDLE`, `RESTARTED`) is closed here when the event
 * arrives, and `write` throws `CLOSED` from then on. The size limit is also
 * checked here, with the room's MAX_CONTENT_BYTES (the `stream-start` answer
 * carries it) and the rule of `MessageStream`: the write that would go over it
 * throws `CONTENT_TOO_LARGE` at once and aborts the stream with that reason.
 *
 * @example
 * ```ts
 * const stream = await remote.stream(new Message('writer', '', ['critic']));
 * for await (const token of model.generate()) stream.write(token);
 * const stored = await stream.end();
 * ```
 */
export class RemoteMessageStream {
  readonly id: string;
  readonly recipients: readonly string[];
  readonly #socket: StreamSocket;
  readonly #onFinish: () => void;
  #state: State = 'open';
  #text: string;
  /** What `admitWrite` checks each write against: made once, a write allocates nothing for it. */
  readonly #writeRule: WritableStream;
  #unsent = '';
  /** Frames sent so far: the `seq` of the last `stream-write`. */
  #seq = 0;
  #lastFlush = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ending: Promise<StoredMessage> | undefined;
  #stored: StoredMessage | undefined;
  #abortReason: string | undefined;

  constructor(
    id: string,
    recipients: readonly string[],
    initialText: string,
    maxContentBytes: number,
    socket: StreamSocket,
    onFinish: () => void,
  ) {
    this.id = id;
    this.recipients = Object.freeze([...recipients]);
    this.#text = initialText;
    const stream = this;
    this.#writeRule = {
      id,
      get writable() {
        return stream.#state === 'open';
      },
      size: new TextJsonSize(initialText),
      limit: { bytes: maxContentBytes, name: "the room's MAX_CONTENT_BYTES" },
      closedError: () => this.#closedError(),
      // The recipients hear of it through the room; a socket that fails now leaves the room's idle timer to tell them.
      abortTooLarge: () => {
        this.#giveUp('CONTENT_TOO_LARGE').catch(() => {});
      },
    };
    this.#socket = socket;
    this.#onFinish = onFinish;
  }

  /** All text written so far (the initial content included). */
  get text(): string {
    return this.#text;
  }

  /** `true` until the stream ended or was aborted (here, or by the room). */
  get open(): boolean {
    return this.#state === 'open' || this.#state === 'ending' || this.#state === 'sealed';
  }

  /**
   * Appends `text`, synchronously and in order. `INVALID_ARGUMENT` for a non-string, `CLOSED` once ended or aborted.
   * When the text would grow past the room's MAX_CONTENT_BYTES (as JSON, in UTF-8 bytes) it throws
   * `CONTENT_TOO_LARGE` and aborts the stream with that reason.
   */
  write(text: string): void {
    if (!admitWrite(this.#writeRule, text)) return;
    this.#text += text;
    this.#unsent += text;
    if (this.#timer === undefined) {
      const wait = Math.max(0, this.#lastFlush + COALESCE_MS - Date.now());
      this.#timer = setTimeout(() => this.#flush(), wait);
    }
  }

  /**
   * Stores the stream as one message (content `finalContent`, else all the
   * text) once every write is in. `STORAGE_FAILURE` (the connection failed
   * for good) leaves it open to another `end()` or `abort()`; a second `end()`
   * after a success returns the same message; `CLOSED` after an abort.
   */
  end(finalContent?: JsonValue): Promise<StoredMessage> {
    if (this.#stored) return Promise.resolve(this.#stored);
    if (this.#ending) return this.#ending;
    if (this.#state === 'aborted' || this.#state === 'ended') return Promise.reject(this.#closedError());
    let content: unknown;
    try {
      content = finalContent === undefined ? undefined : JSON.parse(JSON.stringify(finalContent));
    } catch (error) {
      return Promise.reject(new MessageBusError('INVALID_MESSAGE', `the final content is not JSON: ${String(error)}`, { cause: error }));
    }
    this.#flush();
    this.#state = 'ending';
    const frame: Record<string, unknown> = { type: 'stream-end', streamId: this.id, seq: this.#seq };
    if (finalContent !== undefined) frame.content = content;
    this.#ending = this.#socket.request(frame).then(
      (answer) => {
        this.#stored = answer.message as StoredMessage;
        this.#finish('ended');
        return this.#stored;
      },
      (error: MessageBusError) => {
        this.#ending = undefined;
        if (error.code === 'STORAGE_FAILURE') this.#state = 'sealed';
        else if (error.code === 'INVALID_MESSAGE' || (error.code === 'CONTENT_TOO_LARGE' && finalContent !== undefined)) {
          this.#state = 'open'; // bad final content changes nothing
        } else this.#finish('aborted', error.code);
        throw error;
      },
    );
    return this.#ending;
  }

  /** Gives the stream up: nothing is stored and every recipient gets `abort` with `reason` (default `ABORTED`). */
  async abort(reason = 'ABORTED'): Promise<void> {
    if (typeof reason !== 'string' || reason.length === 0 || reason.length > MAX_REASON) {
      throw new MessageBusError('INVALID_ARGUMENT', `abort() takes a reason: a string of 1-${MAX_REASON} characters`);
    }
    if (this.#state === 'aborted') return;
    if (this.#state === 'ended' || this.#state === 'ending') throw this.#closedError();
    await this.#giveUp(reason);
  }

  /** The room ended or aborted the stream (its own limits, idle timer or restart). */
  settled(event: { type: 'end'; message: StoredMessage } | { type: 'abort'; reason: string }): void {
    if (event.type === 'end') {
      this.#stored ??= event.message;
      if (this.open) this.#finish('ended');
    } else if (this.#state !== 'ended') this.#finish('aborted', event.reason);
  }

  // --- internal helpers ---

  /** Closes the stream here at once and tells the room, which tells every recipient. */
  #giveUp(reason: string): Promise<void> {
    this.#unsent = '';
    this.#finish('aborted', reason);
    return this.#socket.request({ type: 'stream-abort', streamId: this.id, reason }).then(
      () => undefined,
      (error: unknown) => {
        // Already over on the room's side (its own abort crossed ours): aborted either way.
        if (!MessageBusError.is(error, 'CLOSED')) throw error;
      },
    );
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#unsent.length === 0 || this.#state !== 'open') return;
    const text = this.#unsent;
    this.#unsent = '';
    this.#lastFlush = Date.now();
    this.#socket.request({ type: 'stream-write', streamId: this.id, seq: ++this.#seq, text }).catch((error: MessageBusError) => {
      // The room refused a write (over a limit, or the stream is gone): the stream is over.
      if (this.#state === 'open') this.#finish('aborted', error.code);
    });
  }

  #finish(state: 'ended' | 'aborted', reason?: string): void {
    if (state === 'aborted') this.#abortReason ??= reason;
    this.#state = state;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#onFinish();
  }

  #closedError(): MessageBusError {
    const what =
      this.#state === 'aborted'
        ? `was aborted (${this.#abortReason ?? 'ABORTED'})`
        : this.#state === 'ended'
          ? 'has ended'
          : 'is ending: end() was called (retry end() or abort())';
    return new MessageBusError('CLOSED', `stream ${this.id} ${what}; start a new one with bus.stream()`);
  }
}
