/**
 * The stream channels of one backend instance (`StorageBackend.openStreamChannel`),
 * written once for every backend: a signal published on one channel reaches
 * the room's other channels on this instance at once, in order, and goes to
 * the relay, which carries it to the other instances over the medium (a
 * `BroadcastChannel` between tabs, Redis pub/sub between processes); what a
 * relay brings in reaches every channel of the room here. A backend without
 * a medium (memory) has no relay.
 */
import type { StreamChannel, StreamSignal } from '../../core/types.js';

type Listener = (signal: StreamSignal) => void;

/** How a backend carries signals to its other instances. */
export interface StreamRelay {
  /** Carries a signal of `room` to the other instances; must not throw. */
  send(room: string, signal: StreamSignal): void;
  /** The first channel of `room` opened (`true`) or its last one closed (`false`): start or stop receiving it. */
  watch?(room: string, watching: boolean): void;
}

export class StreamChannels {
  readonly #rooms = new Map<string, Set<Listener>>();
  readonly #relay: StreamRelay | undefined;

  constructor(relay?: StreamRelay) {
    this.#relay = relay;
  }

  open(room: string, listener: Listener): StreamChannel {
    let listeners = this.#rooms.get(room);
    if (!listeners) {
      this.#rooms.set(room, (listeners = new Set()));
      this.#relay?.watch?.(room, true);
    }
    const own = listeners;
    own.add(listener);
    return {
      publish: (signal) => {
        if (!own.has(listener)) return;
        for (const other of own) if (other !== listener) call(other, signal);
        this.#relay?.send(room, signal);
      },
      close: () => {
        if (!own.delete(listener) || own.size > 0 || this.#rooms.get(room) !== own) return;
        this.#rooms.delete(room);
        this.#relay?.watch?.(room, false);
      },
    };
  }

  /** A signal another instance published on `room`. */
  receive(room: string, signal: StreamSignal): void {
    for (const listener of this.#rooms.get(room) ?? []) call(listener, signal);
  }

  /** Rooms with a channel open. */
  rooms(): IterableIterator<string> {
    return this.#rooms.keys();
  }

  /** Closes every channel (the backend is closing). */
  clear(): void {
    this.#rooms.clear();
  }
}

/** A listener is a bus, which reports its own errors; one must not stop the others. */
function call(listener: Listener, signal: StreamSignal): void {
  try {
    listener(signal);
  } catch {
    // ignored: see above
  }
}
