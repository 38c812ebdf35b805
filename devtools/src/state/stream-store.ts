/**
 * The streams of the selected room as the events feed reports them: those in
 * flight, whose text grows with each delta, and the last few aborted ones
 * (shown as aborted). An ended stream leaves the store: its stored message is
 * in the timeline from then on. Listeners are told at most every FLUSH_MS, so
 * a model writing 100 deltas a second renders ten times a second.
 */
import type { StreamFeedEvent } from '../api/types.js';

export interface LiveStream {
  streamId: string;
  sender: string;
  recipients: readonly string[];
  inReplyTo?: number;
  metadata?: Record<string, unknown>;
  text: string;
  /** Deltas the text holds. */
  seq: number;
  status: 'streaming' | 'aborted';
  /** Why it was aborted. */
  reason?: string;
  startedAt: number;
  updatedAt: number;
}

const FLUSH_MS = 100;
/** Aborted streams kept for display. */
const ABORTED_KEPT = 20;

export class StreamStore {
  readonly #streams = new Map<string, LiveStream>();
  readonly #listeners = new Set<() => void>();
  readonly #now: () => number;
  #version = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Streams in flight, then aborted ones, each oldest first. */
  list(): LiveStream[] {
    const all = [...this.#streams.values()];
    return [...all.filter((s) => s.status === 'streaming'), ...all.filter((s) => s.status === 'aborted')];
  }

  get(streamId: string): LiveStream | undefined {
    return this.#streams.get(streamId);
  }

  apply(event: StreamFeedEvent): void {
    const now = this.#now();
    const known = this.#streams.get(event.streamId);
    if (event.type === 'start') {
      // A start for a stream already shown (a reconnect) replaces its text.
      if (known && known.status === 'streaming' && event.seq < known.seq) return;
      const stream: LiveStream = {
        streamId: event.streamId,
        sender: event.sender,
        recipients: event.recipients,
        text: event.text,
        seq: event.seq,
        status: 'streaming',
        startedAt: known?.startedAt ?? now,
        updatedAt: now,
      };
      if (event.inReplyTo !== undefined) stream.inReplyTo = event.inReplyTo;
      if (event.metadata !== undefined) stream.metadata = event.metadata;
      this.#streams.set(event.streamId, stream);
    } else if (event.type === 'delta') {
      if (known?.status !== 'streaming' || event.seq <= known.seq) return;
      // A new object per change: panels are memoised on it.
      this.#streams.set(event.streamId, { ...known, text: known.text + event.text, seq: event.seq, updatedAt: now });
    } else if (event.type === 'end') {
      if (!this.#streams.delete(event.streamId)) return;
    } else {
      if (!known) return;
      this.#streams.set(event.streamId, { ...known, status: 'aborted', reason: event.reason, updatedAt: now });
      this.#trimAborted();
    }
    this.#changed();
  }

  /** A stored message that ended a stream (its end event may have been missed during a reconnect). */
  ended(streamId: string): void {
    if (this.#streams.get(streamId)?.status === 'streaming' && this.#streams.delete(streamId)) this.#changed();
  }

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  getVersion = (): number => this.#version;

  #trimAborted(): void {
    const aborted = [...this.#streams.values()].filter((s) => s.status === 'aborted');
    for (const stream of aborted.slice(0, Math.max(0, aborted.length - ABORTED_KEPT))) this.#streams.delete(stream.streamId);
  }

  #changed(): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#version++;
      for (const listener of this.#listeners) listener();
    }, FLUSH_MS);
  }
}
