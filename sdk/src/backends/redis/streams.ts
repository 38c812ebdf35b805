import type { StreamSignal } from '../../core/types.js';
import type { StreamRelay } from '../kit/index.js';
import type { RedisConnection } from './connection.js';
import type { RedisClientLike } from './options.js';

/**
 * Carries stream signals between processes on the room's `streams` channel
 * (pub/sub only: nothing is stored), as `<writer>\n<signal JSON>`. PUBLISH
 * goes through the command connection, whose commands Redis runs in order, so
 * each process's signals arrive in publish order; the echo of our own is
 * skipped by its writer id. Subscribing and unsubscribing a room are
 * serialised per room, for the node-redis quirk LiveFeeds describes. Signals
 * published before the subscription was up, or while it was down, never
 * arrive: once it is (again) up, the relay publishes a `sync` for the room,
 * and the senders answer with their streams as they stand.
 */
export class RedisStreamRelay implements StreamRelay {
  readonly #connection: RedisConnection;
  readonly #subscriber: () => Promise<RedisClientLike>;
  readonly #channel: (room: string) => string;
  readonly #writerId: string;
  readonly #receive: (room: string, signal: StreamSignal) => void;
  /** Rooms wanted now, with the listener subscribed for each. */
  readonly #wanted = new Map<string, (raw: string) => void>();
  readonly #subscribed = new Map<string, (raw: string) => void>();
  readonly #pending = new Map<string, Promise<void>>();
  #hooked: RedisClientLike | undefined;

  constructor(parts: {
    connection: RedisConnection;
    subscriber: () => Promise<RedisClientLike>;
    channel: (room: string) => string;
    writerId: string;
    receive: (room: string, signal: StreamSignal) => void;
  }) {
    this.#connection = parts.connection;
    this.#subscriber = parts.subscriber;
    this.#channel = parts.channel;
    this.#writerId = parts.writerId;
    this.#receive = parts.receive;
  }

  send(room: string, signal: StreamSignal): void {
    if (this.#connection.closed) return;
    const raw = `${this.#writerId}\n${JSON.stringify(signal)}`;
    this.#connection.command('publishStream', ['PUBLISH', this.#channel(room), raw]).catch(() => {
      // Best effort: the receiving buses notice the gap and ask the sender again.
    });
  }

  watch(room: string, watching: boolean): void {
    if (watching) this.#wanted.set(room, (raw) => this.#onPublished(room, raw));
    else this.#wanted.delete(room);
    const next = (this.#pending.get(room) ?? Promise.resolve()).then(() => this.#reconcile(room)).catch(() => {});
    this.#pending.set(room, next);
    void next.then(() => {
      if (this.#pending.get(room) === next) this.#pending.delete(room);
    });
  }

  // --- internal helpers ---

  async #reconcile(room: string): Promise<void> {
    const have = this.#subscribed.get(room);
    const want = this.#wanted.get(room);
    if (have === want || this.#connection.closed) return;
    const sub = await this.#subscriber();
    if (this.#hooked !== sub) {
      this.#hooked = sub;
      // node-redis subscribes again by itself after a reconnect; what was published meanwhile is asked for again.
      sub.on('ready', () => {
        for (const subscribed of this.#subscribed.keys()) this.send(subscribed, { type: 'sync' });
      });
    }
    if (have) {
      await sub.unsubscribe(this.#channel(room), have);
      this.#subscribed.delete(room);
    }
    const current = this.#wanted.get(room);
    if (!current || this.#connection.closed) return;
    await sub.subscribe(this.#channel(room), current);
    this.#subscribed.set(room, current);
    this.send(room, { type: 'sync' });
  }

  #onPublished(room: string, raw: string): void {
    const newline = raw.indexOf('\n');
    if (newline < 0 || raw.slice(0, newline) === this.#writerId) return;
    let signal: StreamSignal;
    try {
      signal = JSON.parse(raw.slice(newline + 1)) as StreamSignal;
    } catch {
      return; // not ours to read
    }
    this.#receive(room, signal);
  }
}
