import { MessageBusError } from '../errors.js';
import type { JsonValue, MessageMetadata, StoredMessage, StreamSignal } from '../types.js';
import { isWellFormed } from '../validate.js';
import { IdleTimer } from './idle-timer.js';
import type { StreamSnapshot } from './stream-board.js';
import { admitWrite, TextJsonSize, type WritableStream } from './text-size.js';

/** What a `MessageStream` needs from the bus that opened it. */
export interface StreamParts {
  readonly id: string;
  readonly sender: string;
  readonly recipients: readonly string[];
  readonly inReplyTo: number | undefined;
  readonly metadata: MessageMetadata | undefined;
  readonly initialText: string;
  readonly maxContentBytes: number;
  readonly idleMs: number;
  /** Tells the bus's watchers and the other buses of the room. */
  publish(signal: StreamSignal): void;
  /** Checks the final content (`INVALID_MESSAGE`, `CONTENT_TOO_LARGE`) and returns what `store` stores. */
  prepare(content: JsonValue): unknown;
  /** Appends the stored message, under the stream's idempotency key. */
  store(prepared: unknown): Promise<StoredMessage>;
  /** The stream ended or was aborted: the bus forgets it. */
  onFinish(): void;
}

/** `ending`: `end()` is storing. `sealed`: an `end()` failed with `STORAGE_FAILURE`; `end()` may be retried. */
type State = 'open' | 'ending' | 'sealed' | 'ended' | 'aborted';

const MAX_REASON = 256;

/**
 * A message being written (`MessageBus.stream`): its recipients see the text
 * grow through `subscribe(..., { onStream })`, and `end()` stores it once, as
 * one message. `write` is synchronous and keeps order.
 *
 * @example
 * ```ts
 * const stream = await bus.stream(new Message('writer', '', ['critic'], { inReplyTo: question.id }));
 * for await (const token of model.generate()) stream.write(token);
 * const stored = await stream.end(); // one message, content: all the text, streamId: stream.id
 * ```
 */
export class MessageStream {
  /** Unique id of the stream; the stored message carries it as `streamId`. */
  readonly id: string;
  /** The recipients routing resolved when the stream began: the stored message goes to them. */
  readonly recipients: readonly string[];
  readonly #parts: StreamParts;
  #state: State = 'open';
  #text: string;
  #seq = 0;
  /** What `admitWrite` checks each write against: made once, a delta allocates nothing for it. */
  readonly #writeRule: WritableStream;
  #idle: IdleTimer;
  #ending: Promise<StoredMessage> | undefined;
  #stored: StoredMessage | undefined;

  constructor(parts: StreamParts) {
    this.id = parts.id;
    this.recipients = parts.recipients;
    this.#parts = parts;
    this.#text = parts.initialText;
    const stream = this;
    this.#writeRule = {
      id: parts.id,
      get writable() {
        return stream.#state === 'open';
      },
      size: new TextJsonSize(parts.initialText),
      limit: { bytes: parts.maxContentBytes, name: 'maxContentBytes' },
      closedError: () => this.#closedError(),
      abortTooLarge: () => this.#abort('CONTENT_TOO_LARGE'),
    };
    this.#idle = this.#idleTimer();
  }

  /** All text written so far (the initial content included). */
  get text(): string {
    return this.#text;
  }

  /** How many deltas were written (the `seq` of the last one). */
  get seq(): number {
    return this.#seq;
  }

  /** `true` until the stream ended or was aborted. */
  get open(): boolean {
    return this.#state === 'open' || this.#state === 'ending' || this.#state === 'sealed';
  }

  /**
   * Appends `text`, synchronously and in order. Throws `INVALID_ARGUMENT` for
   * a non-string and `CLOSED` once `end()` was called or the stream was
   * aborted. When the text would grow past `maxContentBytes` (as JSON, in
   * UTF-8 bytes) it throws `CONTENT_TOO_LARGE` and aborts the stream with
   * that reason.
   */
  write(text: string): void {
    if (!admitWrite(this.#writeRule, text)) return;
    this.#text += text;
    this.#seq++;
    this.#idle.touch();
    this.#parts.publish({ type: 'delta', streamId: this.id, seq: this.#seq, text });
  }

  /**
   * Stores the stream as one message and resolves with it: content
   * `finalContent` when given (any JSON value), else all the text, with the
   * stream's recipients, `inReplyTo`, `metadata` and `streamId`. Bad final
   * content (`INVALID_MESSAGE`, `CONTENT_TOO_LARGE`) changes nothing. After
   * `STORAGE_FAILURE` the stream stays open to another `end()` (the stream's
   * idempotency key makes it store at most once) or `abort()`; any other
   * failure aborts it with the error's code. Once it succeeded, `end()`
   * returns the same message again. Rejects with `CLOSED` after `abort`.
   */
  end(finalContent?: JsonValue): Promise<StoredMessage> {
    if (this.#stored) return Promise.resolve(this.#stored);
    if (this.#ending) return this.#ending;
    if (this.#state === 'aborted') return Promise.reject(this.#closedError());
    let prepared: unknown;
    try {
      prepared = this.#parts.prepare(finalContent === undefined ? this.#text : finalContent);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#state = 'ending';
    this.#idle.stop();
    this.#ending = this.#parts.store(prepared).then(
      (stored) => {
        this.#stored = stored;
        this.#state = 'ended';
        this.#parts.onFinish();
        this.#parts.publish({ type: 'end', streamId: this.id, message: stored });
        return stored;
      },
      (error: unknown) => {
        this.#ending = undefined;
        if (MessageBusError.is(error, 'STORAGE_FAILURE')) {
          this.#state = 'sealed';
          this.#idle = this.#idleTimer();
        } else {
          this.#abort(MessageBusError.is(error) ? error.code : 'STORAGE_FAILURE');
        }
        throw error;
      },
    );
    return this.#ending;
  }

  /**
   * Gives the stream up: nothing is stored, and every recipient gets `abort`
   * with `reason` (default `ABORTED`; a string of 1-256 characters). Aborting
   * an aborted stream does nothing; an ended or ending one rejects with `CLOSED`.
   */
  abort(reason = 'ABORTED'): Promise<void> {
    if (typeof reason !== 'string' || reason.length === 0 || reason.length > MAX_REASON || !isWellFormed(reason)) {
      return Promise.reject(new MessageBusError('INVALID_ARGUMENT', `abort() takes a reason: a string of 1-${MAX_REASON} characters`));
    }
    if (this.#state === 'aborted') return Promise.resolve();
    if (this.#state === 'ended' || this.#state === 'ending') return Promise.reject(this.#closedError());
    this.#abort(reason);
    return Promise.resolve();
  }

  /** The stream with its text so far: the answer to a `sync`. */
  snapshot(): StreamSnapshot {
    const snapshot: { -readonly [K in keyof StreamSnapshot]?: StreamSnapshot[K] } = {
      type: 'start',
      streamId: this.id,
      sender: this.#parts.sender,
      recipients: this.recipients,
    };
    if (this.#parts.inReplyTo !== undefined) snapshot.inReplyTo = this.#parts.inReplyTo;
    if (this.#parts.metadata !== undefined) snapshot.metadata = this.#parts.metadata;
    snapshot.text = this.#text;
    snapshot.seq = this.#seq;
    return snapshot as StreamSnapshot;
  }

  /** Aborts unless the stream is ending or over (the bus closed, or it went idle). */
  abortIfOpen(reason: string): void {
    if (this.#state === 'open' || this.#state === 'sealed') this.#abort(reason);
  }

  // --- internal helpers ---

  #abort(reason: string): void {
    this.#state = 'aborted';
    this.#idle.stop();
    this.#parts.onFinish();
    this.#parts.publish({ type: 'abort', streamId: this.id, reason });
  }

  /** The sender's side of the idle rule: no write (or end) within `idleMs` aborts with `IDLE`, as the recipients will. */
  #idleTimer(): IdleTimer {
    return new IdleTimer(this.#parts.idleMs, () => this.abortIfOpen('IDLE'));
  }

  #closedError(): MessageBusError {
    const what =
      this.#state === 'aborted'
        ? 'was aborted'
        : this.#state === 'ended'
          ? 'has ended'
          : 'is ending: end() was called (retry end() or abort())';
    return new MessageBusError('CLOSED', `stream ${this.id} ${what}; start a new one with bus.stream()`);
  }
}
