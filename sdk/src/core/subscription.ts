import { MessageBusError } from './errors.js';
import type { StoredMessage, StreamEvent } from './types.js';

/** Called once per message, in id order. May return a promise; the next message waits for it. */
export type MessageHandler = (message: StoredMessage) => void | Promise<void>;

/** Options of `MessageBus.subscribe`. */
export interface SubscribeOptions {
  /** Replay messages after this id first. Default: after the agent's acknowledged cursor. */
  after?: number;
  /** Called with delivery errors (a failed fetch, a handler that threw) besides the bus's `error` event. */
  onError?: (error: MessageBusError | Error) => void;
  /**
   * Called with the events of every stream the agent sends or is a recipient
   * of (`bus.stream`), live: per stream a `start` (with all text so far, for a
   * stream already in flight), `delta`s, then `end` or `abort`. A `start` for
   * a stream already shown (after a reconnect or a repair) replaces its text.
   * The stored message of an ended stream also reaches the handler, in id order.
   */
  onStream?: (event: StreamEvent) => void;
}

interface SubscriptionParts {
  agentId: string;
  handler: MessageHandler;
  after: number | undefined;
  /** Fetches the next page after `after` (`null`: after the acked cursor). Pages hold at most `pageSize` messages. */
  fetchPage: (after: number | null) => Promise<StoredMessage[]>;
  onError: (error: MessageBusError | Error, fatal: boolean) => void;
  onStop: () => void;
}

const PAGE_SIZE = 1000;
/** Errors after which fetching again cannot help. */
const FATAL = new Set(['UNKNOWN_AGENT', 'CURSOR_EXPIRED', 'CLOSED', 'INVALID_ARGUMENT']);

/**
 * A live subscription. It never trusts notifications for content: each one only
 * wakes a pump that fetches from the last delivered id. One pump runs at a
 * time, so delivery is in order, the replay/live seam has no gap (the fetch
 * reads the store) and no duplicate (only ids above the last delivered pass).
 */
export class Subscription {
  readonly agentId: string;
  readonly #parts: SubscriptionParts;
  #delivered: number | null;
  #running = false;
  #again = false;
  #stopped = false;
  #retryTimer: unknown;
  #failures = 0;

  constructor(parts: SubscriptionParts) {
    this.agentId = parts.agentId;
    this.#parts = parts;
    this.#delivered = parts.after ?? null;
  }

  start(): void {
    void this.#pump();
  }

  /** A message was stored in the room; fetch if it may be ours. */
  notify(message: StoredMessage): void {
    if (this.#stopped) return;
    if (this.#delivered !== null && message.id <= this.#delivered) return;
    void this.#pump();
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    this.#parts.onStop();
  }

  async #pump(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    try {
      do {
        this.#again = false;
        let page: StoredMessage[];
        do {
          page = await this.#parts.fetchPage(this.#delivered);
          for (const message of page) {
            if (this.#stopped) return;
            if (this.#delivered !== null && message.id <= this.#delivered) continue;
            this.#delivered = message.id;
            try {
              await this.#parts.handler(message);
            } catch (error) {
              this.#parts.onError(error instanceof Error ? error : new Error(String(error)), false);
            }
          }
        } while (page.length >= PAGE_SIZE && !this.#stopped);
      } while (this.#again && !this.#stopped);
      this.#failures = 0;
    } catch (error) {
      this.#fail(error);
    } finally {
      this.#running = false;
    }
  }

  /** A fatal error ends the subscription; a storage failure retries with backoff (up to 5 s). */
  #fail(error: unknown): void {
    if (this.#stopped) return;
    const failure = error instanceof Error ? error : new Error(String(error));
    const fatal = !MessageBusError.is(failure) || FATAL.has(failure.code);
    this.#parts.onError(failure, fatal);
    if (fatal) {
      this.stop();
      return;
    }
    this.#failures++;
    const delay = Math.min(5000, 50 * 2 ** this.#failures);
    this.#retryTimer = setTimeout(() => void this.#pump(), delay);
  }
}
