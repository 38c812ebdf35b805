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
/** A wake-up starts the pump from here, so a handler never runs inside the notifying call (a backend's append). */
const NEXT_TICK = Promise.resolve();
/** Messages a slow handler may have waiting in the queue; beyond that the store holds them and a fetch reads them. */
const MAX_QUEUED = PAGE_SIZE;

/**
 * A live subscription: delivers in id order, with no gap and no duplicate.
 *
 * It keeps `#complete`, an id up to which every message routed to the agent
 * has been delivered, is queued, or will come with the fetch that is due. A
 * notification for the id just above it is the room's next message: if it is
 * routed to the agent it is queued and delivered as it is; if not, only the
 * mark moves and nothing wakes. Any other notification is a gap (a lost or
 * reordered notice, another writer's id): the mark jumps to it and a fetch is
 * due, which covers it because ids become visible in order (a backend stores
 * id n before it assigns n + 1) and the fetch starts after the notice. The
 * first delivery is such a fetch too (the replay).
 *
 * One pump runs at a time and fetches before it drains the queue: what a due
 * fetch returns is older than anything queued after it. Each message passes
 * only if its id is above the last delivered one, so a fetch and the queue may
 * hold the same message without a duplicate.
 */
export class Subscription {
  readonly agentId: string;
  readonly #parts: SubscriptionParts;
  /** The last id handed to the handler (or `after`); `null` until then, meaning "after the acked cursor". */
  #delivered: number | null;
  /** See the class comment; `null` until a notice or a fetch sets it. */
  #complete: number | null = null;
  /** Messages taken directly, in id order: `#queue[#head]` up to `#tail`. Slots are reused, not reallocated per message. */
  readonly #queue: (StoredMessage | undefined)[] = [];
  #head = 0;
  #tail = 0;
  #fetchDue = true;
  #running = false;
  #stopped = false;
  #retryTimer: unknown;
  #failures = 0;

  constructor(parts: SubscriptionParts) {
    this.agentId = parts.agentId;
    this.#parts = parts;
    this.#delivered = parts.after ?? null;
  }

  start(): void {
    this.#wake();
  }

  /**
   * A message was stored in the room: take it if it is the next id, fetch on a gap. `toldSince`: the caller
   * vouches that every id above it and below this one that was routed to this agent was notified here, so a mark
   * at or above it moves up to this id (see LiveSubscriptions). Omitted, nothing is vouched for.
   */
  notify(message: StoredMessage, toldSince = Number.POSITIVE_INFINITY): void {
    if (this.#stopped) return;
    const id = message.id;
    const complete = this.#complete ?? this.#delivered;
    if (complete !== null && id <= complete) return;
    if (this.#complete !== null && this.#complete >= toldSince) this.#complete = id - 1;
    if (this.#complete !== null && id === this.#complete + 1) {
      const routed = isRoutedTo(message, this.agentId);
      if (routed === false) {
        this.#complete = id;
        return;
      }
      if (routed === true && this.#tail - this.#head < MAX_QUEUED) {
        this.#complete = id;
        this.#enqueue(message);
        this.#wake();
        return;
      }
    }
    // A gap, unreadable recipients or a full queue: the store answers. A fetch due now covers every id up to this one.
    this.#complete = id;
    this.#clearQueue();
    this.#fetchDue = true;
    this.#wake();
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    this.#clearQueue();
    this.#parts.onStop();
  }

  #enqueue(message: StoredMessage): void {
    // A queue that never empties (a handler always one behind) slides back to the front instead of growing.
    if (this.#head > 0 && this.#tail >= MAX_QUEUED) {
      this.#queue.copyWithin(0, this.#head, this.#tail);
      this.#queue.fill(undefined, this.#tail - this.#head, this.#tail);
      this.#tail -= this.#head;
      this.#head = 0;
    }
    this.#queue[this.#tail++] = message;
  }

  #clearQueue(): void {
    this.#queue.length = 0;
    this.#head = this.#tail = 0;
  }

  #wake(): void {
    if (this.#running || this.#stopped) return;
    this.#running = true;
    wakeLater(this.#drain);
  }

  /**
   * The pump: fetches when one is due, else hands over the queue, until neither is left. It runs synchronously while
   * handlers do, and goes async only for a fetch or a handler's promise (then resumes itself): no promise per message.
   */
  readonly #drain = (): void => {
    while (!this.#stopped) {
      if (this.#fetchDue) {
        this.#fetchDue = false;
        this.#catchUp().then(this.#drain, this.#fetchFailed);
        return;
      }
      if (this.#head === this.#tail) break;
      const message = this.#queue[this.#head] as StoredMessage;
      this.#queue[this.#head++] = undefined;
      if (this.#head === this.#tail) this.#head = this.#tail = 0;
      const pending = this.#deliver(message);
      if (pending) {
        pending.then(this.#drain);
        return;
      }
    }
    this.#running = false;
  };

  readonly #fetchFailed = (error: unknown): void => {
    this.#running = false;
    this.#fetchDue = true;
    this.#fail(error);
  };

  /** Fetches and delivers every page after the last delivered id. */
  async #catchUp(): Promise<void> {
    let page: StoredMessage[];
    do {
      page = await this.#parts.fetchPage(this.#delivered);
      for (const message of page) {
        if (this.#stopped) return;
        const pending = this.#deliver(message);
        if (pending) await pending;
      }
    } while (page.length >= PAGE_SIZE && !this.#stopped);
    this.#failures = 0;
    // What was delivered is proved too (with `after`, or when no notice came yet).
    const delivered = this.#delivered;
    if (delivered !== null && (this.#complete === null || delivered > this.#complete)) this.#complete = delivered;
  }

  /** Hands `message` to the handler unless it was delivered already; returns a promise only when the handler did. */
  #deliver(message: StoredMessage): Promise<void> | undefined {
    if (this.#delivered !== null && message.id <= this.#delivered) return undefined;
    this.#delivered = message.id;
    try {
      const result = this.#parts.handler(message);
      if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
        return Promise.resolve(result).then(undefined, (error: unknown) => this.#handlerFailed(error));
      }
    } catch (error) {
      this.#handlerFailed(error);
    }
    return undefined;
  }

  #handlerFailed(error: unknown): void {
    this.#report(error instanceof Error ? error : new Error(String(error)), false);
  }

  /** Reports through `onError`; one that throws is the caller's bug and must not stall the pump. */
  #report(error: MessageBusError | Error, fatal: boolean): void {
    try {
      this.#parts.onError(error, fatal);
    } catch {
      // ignored: the pump would stay marked as running, and every later message would wait forever
    }
  }

  /** A fatal error ends the subscription; a storage failure retries with backoff (up to 5 s). */
  #fail(error: unknown): void {
    if (this.#stopped) return;
    const failure = error instanceof Error ? error : new Error(String(error));
    const fatal = !MessageBusError.is(failure) || FATAL.has(failure.code);
    this.#report(failure, fatal);
    if (fatal) {
      this.stop();
      return;
    }
    this.#failures++;
    const delay = Math.min(5000, 50 * 2 ** this.#failures);
    this.#retryTimer = setTimeout(() => this.#wake(), delay);
  }
}

/**
 * Pumps woken in one turn start together, in one microtask: a broadcast to n live subscribers costs one promise,
 * not n. Each pump still runs on its own; this only batches their first step.
 */
const woken: (() => void)[] = [];
let wokenCount = 0;
const NOTHING = (): void => {};
function wakeLater(drain: () => void): void {
  woken[wokenCount++] = drain;
  // A resolved promise's then, not queueMicrotask: Node wraps each queueMicrotask callback for async hooks (~200 bytes).
  if (wokenCount === 1) NEXT_TICK.then(runWoken);
}
function runWoken(): void {
  // A pump may wake another (its handler sends): that one joins this loop. Slots are reused, not reallocated.
  for (let i = 0; i < wokenCount; i++) {
    const drain = woken[i] as () => void;
    woken[i] = NOTHING;
    try {
      drain();
    } catch (error) {
      // A pump does not throw (it reports through onError); if one ever did, the others must still run. Surface it.
      void NEXT_TICK.then(() => Promise.reject(error));
    }
  }
  wokenCount = 0;
}

/** Long recipient lists (broadcasts) are shared between messages and subscriptions: one set per list, not a scan per subscription. */
const recipientSets = new WeakMap<readonly string[], ReadonlySet<string>>();
const SCAN_UP_TO = 8;

/** Whether `message` is routed to `agentId`; `undefined` when its recipients cannot be read (then the store decides). */
function isRoutedTo(message: StoredMessage, agentId: string): boolean | undefined {
  const recipients = message.recipients;
  if (!Array.isArray(recipients)) return undefined;
  if (recipients.length <= SCAN_UP_TO) return recipients.includes(agentId);
  let set = recipientSets.get(recipients);
  if (!set) recipientSets.set(recipients, (set = new Set(recipients)));
  return set.has(agentId);
}
