/**
 * The receiving side of streams: every stream of the room this bus knows of
 * (its own and, through the storage's stream channel, other buses'), with the
 * text so far, and the watchers that see them. It turns signals into the
 * events a watcher gets, in this order per stream: one `start`, `delta`s with
 * `seq` 1, 2, 3..., then `end` or `abort`. A watcher that comes mid-stream
 * gets a `start` holding all text so far; a stream that skipped a `seq` (a
 * lost signal) is repaired by a `sync`, and its answer is passed on as a new
 * `start` replacing the text. A stream no signal touches for `idleMs` is
 * aborted with `IDLE` here, whatever happened to its sender.
 */
import type {
  MessageMetadata,
  StoredMessage,
  StreamAbortEvent,
  StreamDeltaEvent,
  StreamEndEvent,
  StreamEvent,
  StreamSignal,
  StreamStartEvent,
} from '../types.js';
import { IdleTimer } from './idle-timer.js';

/** Who a stream reaches, and how many deltas its text holds after the event it comes with. */
export interface StreamInfo {
  readonly sender: string;
  readonly recipients: readonly string[];
  readonly seq: number;
}

/** A watcher's callback: the event, and the stream it belongs to. */
export type StreamWatcher = (event: StreamEvent, stream: StreamInfo) => void;

/** A stream in flight, with its text so far: what a `sync` is answered with and a late watcher starts from. */
export type StreamSnapshot = StreamStartEvent & { readonly seq: number };

interface Watcher {
  /** `null` sees every stream (the bus's `stream` event). */
  readonly agentId: string | null;
  readonly callback: StreamWatcher;
  /** Streams it was given a `start` of and not yet their `end` or `abort`. */
  readonly shown: Set<string>;
  stopped: boolean;
}

interface Tracked extends StreamInfo {
  readonly id: string;
  readonly inReplyTo: number | undefined;
  readonly metadata: MessageMetadata | undefined;
  text: string;
  seq: number;
  /** Opened by this bus: its `MessageStream` keeps the idle rule, no timer here. */
  readonly local: boolean;
  /** A `seq` was skipped: deltas wait for the `sync` answer. */
  stale: boolean;
  syncedAt: number;
  idle: IdleTimer | undefined;
  readonly watchers: Watcher[];
}

/** How long a bus waits for a `sync` answer before asking again. */
const SYNC_RETRY_MS = 1000;
/** Ended streams remembered, so a late signal of one does not bring it back. */
const FINISHED_KEPT = 1024;

export class StreamBoard {
  readonly #idleMs: number;
  readonly #requestSync: (streamId: string) => void;
  readonly #onError: (error: unknown) => void;
  readonly #streams = new Map<string, Tracked>();
  readonly #watchers = new Set<Watcher>();
  readonly #finished = new Set<string>();
  readonly #syncAsked = new Map<string, number>();
  /** Signals that arrived while a watcher ran (it wrote or subscribed): applied in order after it. */
  readonly #queue: (() => void)[] = [];
  #running = false;

  constructor(idleMs: number, requestSync: (streamId: string) => void, onError: (error: unknown) => void) {
    this.#idleMs = idleMs;
    this.#requestSync = requestSync;
    this.#onError = onError;
  }

  /** Applies one signal (`local`: from a stream of this bus). Never throws; watchers' errors go to `onError`. */
  apply(signal: StreamSignal, local: boolean): void {
    if (this.#running) {
      this.#queue.push(() => this.#apply(signal, local));
      return;
    }
    this.#run(() => this.#apply(signal, local));
  }

  /** A stored message: one that ended a stream closes it, even when its `end` signal was lost. */
  onStored(message: StoredMessage): void {
    const streamId = message.streamId;
    if (streamId !== undefined && this.#streams.has(streamId)) this.apply({ type: 'end', streamId, message }, false);
  }

  /**
   * Calls `callback` with the events of every stream `agentId` may see (it is
   * the sender or a recipient; `null`: every stream). Streams already in
   * flight are given as a `start` with their text so far, a microtask later.
   * Returns `stop`.
   */
  watch(agentId: string | null, callback: StreamWatcher): () => void {
    const watcher: Watcher = { agentId, callback, shown: new Set(), stopped: false };
    this.#watchers.add(watcher);
    void Promise.resolve().then(() => this.#enqueue(() => this.#replay(watcher)));
    return () => {
      if (watcher.stopped) return;
      watcher.stopped = true;
      this.#watchers.delete(watcher);
      for (const id of watcher.shown) {
        const watchers = this.#streams.get(id)?.watchers;
        const at = watchers?.indexOf(watcher) ?? -1;
        if (at >= 0) watchers?.splice(at, 1);
      }
    };
  }

  /** The streams in flight that `agentId` may see (`null`: all), each as a `start` with its text so far. */
  snapshots(agentId: string | null = null): StreamSnapshot[] {
    const out: StreamSnapshot[] = [];
    for (const tracked of this.#streams.values()) if (visible(tracked, agentId)) out.push(startOf(tracked));
    return out;
  }

  /** Forgets every stream without telling anyone (the bus closed). */
  clear(): void {
    for (const tracked of this.#streams.values()) tracked.idle?.stop();
    this.#streams.clear();
    this.#watchers.clear();
    this.#queue.length = 0;
  }

  // --- internal helpers ---

  #enqueue(task: () => void): void {
    if (this.#running) this.#queue.push(task);
    else this.#run(task);
  }

  #run(task: () => void): void {
    this.#running = true;
    try {
      task();
      for (let i = 0; i < this.#queue.length; i++) (this.#queue[i] as () => void)();
    } finally {
      this.#queue.length = 0;
      this.#running = false;
    }
  }

  #apply(signal: StreamSignal, local: boolean): void {
    if (signal.type === 'start') this.#start(signal, local);
    else if (signal.type === 'delta') this.#delta(signal);
    else if (signal.type === 'end' || signal.type === 'abort') this.#close(signal);
  }

  #delta(signal: StreamDeltaEvent): void {
    const tracked = this.#streams.get(signal.streamId);
    if (!tracked) {
      this.#unknown(signal.streamId);
      return;
    }
    if (signal.seq <= tracked.seq) return; // heard already (a sync answer covered it)
    if (signal.seq !== tracked.seq + 1 || tracked.stale) {
      this.#gap(tracked);
      return;
    }
    tracked.text += signal.text;
    tracked.seq = signal.seq;
    tracked.idle?.touch();
    const event: StreamEvent = Object.freeze({ type: 'delta', streamId: tracked.id, seq: signal.seq, text: signal.text });
    for (const watcher of tracked.watchers) this.#call(watcher, event, tracked);
  }

  #close(signal: StreamEndEvent | StreamAbortEvent): void {
    const tracked = this.#streams.get(signal.streamId);
    if (!tracked) return;
    this.#finish(tracked);
    const event: StreamEvent =
      signal.type === 'end'
        ? Object.freeze({ type: 'end', streamId: tracked.id, message: signal.message })
        : Object.freeze({ type: 'abort', streamId: tracked.id, reason: signal.reason });
    for (const watcher of tracked.watchers) {
      watcher.shown.delete(tracked.id);
      this.#call(watcher, event, tracked);
    }
  }

  #start(signal: StreamSnapshot, local: boolean): void {
    if (this.#finished.has(signal.streamId)) return;
    const known = this.#streams.get(signal.streamId);
    if (known) {
      // A sync answer: it replaces the text only when it knows more (or repairs a gap).
      if (signal.seq < known.seq || (signal.seq === known.seq && !known.stale)) return;
      known.text = signal.text;
      known.seq = signal.seq;
      known.stale = false;
      known.idle?.touch();
      const event = startEvent(known);
      for (const watcher of known.watchers) this.#call(watcher, event, known);
      return;
    }
    const tracked: Tracked = {
      id: signal.streamId,
      sender: signal.sender,
      recipients: signal.recipients,
      inReplyTo: signal.inReplyTo,
      metadata: signal.metadata,
      text: signal.text,
      seq: signal.seq,
      local,
      stale: false,
      syncedAt: 0,
      idle: undefined,
      watchers: [],
    };
    if (!local)
      tracked.idle = new IdleTimer(this.#idleMs, () => this.apply({ type: 'abort', streamId: tracked.id, reason: 'IDLE' }, false));
    this.#streams.set(tracked.id, tracked);
    this.#syncAsked.delete(tracked.id);
    const event = startEvent(tracked);
    for (const watcher of this.#watchers) {
      if (!visible(tracked, watcher.agentId)) continue;
      this.#show(watcher, tracked);
      this.#call(watcher, event, tracked);
    }
  }

  #replay(watcher: Watcher): void {
    for (const tracked of this.#streams.values()) {
      if (watcher.stopped) return;
      if (watcher.shown.has(tracked.id) || !visible(tracked, watcher.agentId)) continue;
      this.#show(watcher, tracked);
      this.#call(watcher, startEvent(tracked), tracked);
    }
  }

  #show(watcher: Watcher, tracked: Tracked): void {
    watcher.shown.add(tracked.id);
    tracked.watchers.push(watcher);
  }

  /** A delta of a stream never started here: this bus opened mid-stream, or its `start` was lost. */
  #unknown(streamId: string): void {
    if (this.#finished.has(streamId)) return;
    const now = performance.now();
    const asked = this.#syncAsked.get(streamId);
    if (asked !== undefined && now - asked < SYNC_RETRY_MS) return;
    if (this.#syncAsked.size >= FINISHED_KEPT) this.#syncAsked.clear();
    this.#syncAsked.set(streamId, now);
    this.#requestSync(streamId);
  }

  #gap(tracked: Tracked): void {
    const now = performance.now();
    if (tracked.stale && now - tracked.syncedAt < SYNC_RETRY_MS) return;
    tracked.stale = true;
    tracked.syncedAt = now;
    this.#requestSync(tracked.id);
  }

  #finish(tracked: Tracked): void {
    tracked.idle?.stop();
    this.#streams.delete(tracked.id);
    if (this.#finished.size >= FINISHED_KEPT) this.#finished.delete(this.#finished.values().next().value as string);
    this.#finished.add(tracked.id);
  }

  #call(watcher: Watcher, event: StreamEvent, tracked: Tracked): void {
    if (watcher.stopped) return;
    try {
      watcher.callback(event, tracked);
    } catch (error) {
      this.#onError(error);
    }
  }
}

function visible(tracked: Tracked, agentId: string | null): boolean {
  return agentId === null || tracked.sender === agentId || tracked.recipients.includes(agentId);
}

/** The public `start` event: the exact shape of the issue, its optional keys only when set, `text` last. */
function startEvent(tracked: Tracked): StreamStartEvent {
  const event: { -readonly [K in keyof StreamStartEvent]?: StreamStartEvent[K] } = {
    type: 'start',
    streamId: tracked.id,
    sender: tracked.sender,
    recipients: tracked.recipients,
  };
  if (tracked.inReplyTo !== undefined) event.inReplyTo = tracked.inReplyTo;
  if (tracked.metadata !== undefined) event.metadata = tracked.metadata;
  event.text = tracked.text;
  return Object.freeze(event as StreamStartEvent);
}

function startOf(tracked: Tracked): StreamSnapshot {
  return Object.freeze({ ...startEvent(tracked), seq: tracked.seq });
}
