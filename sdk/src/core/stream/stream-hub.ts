/**
 * A bus's streams: the ones it writes (`MessageStream`), the board of every
 * stream it knows of, and the storage's stream channel between them and the
 * other buses of the room. Own signals go to the board and the channel;
 * other buses' signals come from the channel to the board; a `sync` is
 * answered with a snapshot of each own stream it asks about.
 */
import type { StorageBackend, StoredMessage, StreamChannel, StreamSignal } from '../types.js';
import { MessageStream, type StreamParts } from './message-stream.js';
import { StreamBoard, type StreamSnapshot, type StreamWatcher } from './stream-board.js';

/** Default `streamIdleMs`: a stream nothing is written to for 30 s is aborted with `IDLE`. */
export const DEFAULT_STREAM_IDLE_MS = 30_000;

export class StreamHub {
  readonly #board: StreamBoard;
  readonly #channel: StreamChannel | undefined;
  readonly #own = new Map<string, MessageStream>();
  readonly #onError: (error: unknown) => void;

  constructor(storage: StorageBackend, room: string, idleMs: number, onError: (error: unknown) => void) {
    this.#onError = onError;
    this.#board = new StreamBoard(idleMs, (streamId) => this.#send({ type: 'sync', streamId }), onError);
    this.#channel = storage.openStreamChannel?.(room, (signal) => this.#onSignal(signal));
    // Streams already in flight on other buses: their senders answer with what they hold.
    this.#send({ type: 'sync' });
  }

  /** Opens a stream of this bus; its `start` reaches watchers and the room at once. */
  open(parts: Omit<StreamParts, 'publish' | 'onFinish'>): MessageStream {
    const stream = new MessageStream({
      ...parts,
      publish: (signal) => this.#publish(signal),
      onFinish: () => this.#own.delete(parts.id),
    });
    this.#own.set(stream.id, stream);
    this.#publish(stream.snapshot());
    return stream;
  }

  watch(agentId: string | null, watcher: StreamWatcher): () => void {
    return this.#board.watch(agentId, watcher);
  }

  snapshots(agentId: string | null): StreamSnapshot[] {
    return this.#board.snapshots(agentId);
  }

  /** A stored message; one that ended a stream closes it here too. */
  onStored(message: StoredMessage): void {
    if (message.streamId !== undefined) this.#board.onStored(message);
  }

  /** Aborts this bus's open streams with `CLOSED` (their sender is going away) and stops listening. */
  close(): void {
    for (const stream of [...this.#own.values()]) stream.abortIfOpen('CLOSED');
    this.#channel?.close();
    this.#board.clear();
  }

  // --- internal helpers ---

  #publish(signal: StreamSignal): void {
    this.#board.apply(signal, true);
    this.#send(signal);
  }

  /** A channel must not throw; one that does loses the signal (others repair it), never the write. */
  #send(signal: StreamSignal): void {
    try {
      this.#channel?.publish(signal);
    } catch (error) {
      this.#onError(error);
    }
  }

  #onSignal(signal: StreamSignal): void {
    if (!isSignal(signal)) return;
    if (signal.type === 'sync') {
      if (signal.streamId === undefined) for (const stream of this.#own.values()) this.#send(stream.snapshot());
      else {
        const stream = this.#own.get(signal.streamId);
        if (stream) this.#send(stream.snapshot());
      }
      return;
    }
    // Another bus cannot own one of our ids; a signal claiming one is ignored rather than believed.
    if (this.#own.has(signal.streamId)) return;
    this.#board.apply(signal, false);
  }
}

/** Signals come from other tabs and processes: only well-formed ones are applied. */
function isSignal(value: unknown): value is StreamSignal {
  if (typeof value !== 'object' || value === null) return false;
  const signal = value as Record<string, unknown>;
  if (signal.type === 'sync') return signal.streamId === undefined || typeof signal.streamId === 'string';
  if (typeof signal.streamId !== 'string') return false;
  switch (signal.type) {
    case 'start':
      return (
        typeof signal.sender === 'string' &&
        Array.isArray(signal.recipients) &&
        typeof signal.text === 'string' &&
        Number.isSafeInteger(signal.seq) &&
        (signal.seq as number) >= 0
      );
    case 'delta':
      return typeof signal.text === 'string' && Number.isSafeInteger(signal.seq) && (signal.seq as number) >= 1;
    case 'end':
      return typeof signal.message === 'object' && signal.message !== null;
    case 'abort':
      return typeof signal.reason === 'string';
    default:
      return false;
  }
}
