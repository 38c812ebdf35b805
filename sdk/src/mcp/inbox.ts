import { MessageBusError } from '../core/errors.js';
import type { McpBus } from './bus.js';

/** Subscription errors after which it has ended: the next `start` opens a new one. */
const ENDED = new Set(['UNKNOWN_AGENT', 'CURSOR_EXPIRED', 'CLOSED', 'INVALID_ARGUMENT', 'UNAUTHORIZED', 'FORBIDDEN']);

type Waiter = (woken: boolean) => void;

/**
 * The session's one live subscription to the agent's messages. It carries no
 * content: it only wakes `wait_for_messages` calls and tells resource
 * subscribers that the inbox changed. Readers always fetch from the bus, so a
 * wake-up that races a fetch costs one more fetch, never a lost message.
 */
export class Inbox {
  readonly #bus: McpBus;
  readonly #agent: string;
  readonly #onError: (error: Error) => void;
  readonly #waiters = new Set<Waiter>();
  readonly #listeners = new Set<() => void>();
  #stop: (() => void) | undefined;

  constructor(bus: McpBus, agent: string, onError: (error: Error) => void) {
    this.#bus = bus;
    this.#agent = agent;
    this.#onError = onError;
  }

  get running(): boolean {
    return this.#stop !== undefined;
  }

  /**
   * Starts the subscription (no-op when it runs). `after` should be at least
   * the agent's last routed id, so the start replays nothing; without it the
   * bus replays from the acked cursor, which only causes early wake-ups.
   */
  start(after?: number): void {
    if (this.#stop) return;
    const onError = (error: Error) => {
      if (MessageBusError.is(error) && ENDED.has(error.code)) {
        if (this.#stop === stop) this.#stop = undefined;
        // Not a member (yet, or any more): join_room starts a new subscription; nothing to report.
        if (error.code === 'UNKNOWN_AGENT') return;
      }
      this.#onError(error);
    };
    const stop = this.#bus.subscribe(this.#agent, () => this.#arrived(), { ...(after === undefined ? {} : { after }), onError });
    this.#stop = stop;
  }

  stop(): void {
    const stop = this.#stop;
    this.#stop = undefined;
    stop?.();
  }

  /**
   * Resolves `true` at the next arrival, `false` after `timeoutMs` or when
   * `signal` aborts. Register it before the fetch it guards, so an arrival
   * between that fetch and this wait still wakes it.
   */
  next(timeoutMs: number, signal?: AbortSignal): { woken: Promise<boolean>; cancel: () => void } {
    let settle: Waiter = () => {};
    const woken = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => settle(false), timeoutMs);
      const abort = () => settle(false);
      signal?.addEventListener('abort', abort, { once: true });
      settle = (value) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', abort);
        this.#waiters.delete(settle);
        resolve(value);
      };
      this.#waiters.add(settle);
      if (signal?.aborted) settle(false);
    });
    return { woken, cancel: () => settle(false) };
  }

  /** Calls `listener` whenever a message arrives. Returns `remove`. */
  onArrival(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #arrived(): void {
    for (const waiter of [...this.#waiters]) waiter(true);
    for (const listener of this.#listeners) listener();
  }
}
