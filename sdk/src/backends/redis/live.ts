import type { StoredMessage } from '../../core/types.js';
import type { RedisConnection } from './connection.js';
import type { RedisClientLike } from './options.js';

type Listener = (message: StoredMessage) => void;

/** What the feeds need from the backend. */
export interface FeedSource {
  /** The room's pub/sub channel. */
  channel(room: string): string;
  /** The room's last id (where a new feed starts). */
  lastId(room: string): Promise<number>;
  /** Messages after `after`, ascending (a catch-up after (re)subscribing). */
  history(room: string, after: number, limit: number): Promise<StoredMessage[]>;
  /** A published value as a message, or `undefined` when its audience must be read first (then `decode`). */
  parse(room: string, id: number, value: string): StoredMessage | undefined;
  decode(room: string, id: number, value: string): Promise<StoredMessage>;
  /** The room's members may have changed (`undefined`: any room's, while the feed was down). */
  membersChanged(room: string | undefined): void;
}

/** The live feed of one room in this process: its listeners, and where delivery stands. */
interface RoomFeed {
  readonly room: string;
  readonly listeners: Set<Listener>;
  /** Subscribed on the channel for this feed alone, so an unsubscribe names exactly it. */
  readonly onPublished: (raw: string) => void;
  /** Highest id delivered to the listeners. */
  lastSeen: number;
  /** `lastSeen` was set from the room's last id when the feed began. */
  started: boolean;
  /** Subscribed: publications reach `onPublished`. */
  active: boolean;
  /** Deliveries run one after another, so listeners see ids in order. */
  chain: Promise<void>;
  /** Deliveries waiting in `chain`; while any is, new ones queue behind it. */
  queued: number;
}

/** How long a failed subscribe waits before it tries again. */
const RETRY_MS = 1000;
/** Most messages a catch-up delivers (the bus fetches the rest). */
const CATCH_UP_LIMIT = 1000;

/**
 * Live delivery across processes through Redis pub/sub, on one subscriber connection per backend.
 *
 * Subscribing and unsubscribing a room's channel are serialised per room and reconciled against what is wanted
 * now: an unsubscribe's reply is awaited before the next subscribe is sent. (node-redis 5 drops a channel's
 * whole listener set when an UNSUBSCRIBE reply arrives; a subscribe issued before that reply would otherwise
 * join the doomed set without sending SUBSCRIBE, and the feed would stay silent for good.)
 */
export class LiveFeeds {
  readonly #connection: RedisConnection;
  readonly #source: FeedSource;
  /** Publications carrying this id are this backend's own appends (already delivered by `deliverOwn`). */
  readonly #writerId: string;
  readonly #feeds = new Map<string, RoomFeed>();
  /** What is subscribed on each room's channel now (confirmed by Redis). */
  readonly #subscribed = new Map<string, (raw: string) => void>();
  /** Each room's queue of subscribe/unsubscribe work. */
  readonly #pending = new Map<string, Promise<void>>();
  #subscriber: Promise<RedisClientLike> | undefined;
  /** True while the pub/sub connection is up. */
  #live = false;
  #closed = false;

  constructor(connection: RedisConnection, source: FeedSource, writerId: string) {
    this.#connection = connection;
    this.#source = source;
    this.#writerId = writerId;
  }

  /** `true` while publications of `room` reach this process: only then can a cached member list be trusted. */
  isLive(room: string): boolean {
    return this.#live && this.#feeds.get(room)?.active === true;
  }

  watch(room: string, listener: Listener): () => void {
    let feed = this.#feeds.get(room);
    if (!feed) {
      const created: RoomFeed = {
        room,
        listeners: new Set(),
        onPublished: (raw) => this.#onPublished(created, raw),
        lastSeen: -1,
        started: false,
        active: false,
        chain: Promise.resolve(),
        queued: 0,
      };
      feed = created;
      this.#feeds.set(room, feed);
      this.#sync(room);
    }
    feed.listeners.add(listener);
    const watched = feed;
    return () => {
      watched.listeners.delete(listener);
      if (watched.listeners.size === 0 && this.#feeds.get(room) === watched) {
        this.#feeds.delete(room);
        this.#sync(room);
      }
    };
  }

  /** Calls the room's listeners with a message this backend appended itself (its pub/sub echo is skipped). */
  deliverOwn(room: string, message: StoredMessage): void {
    for (const listener of this.#feeds.get(room)?.listeners ?? []) listener(message);
  }

  close(): void {
    this.#closed = true;
    this.#feeds.clear();
  }

  // --- internal helpers ---

  /** Queues a reconciliation of the room's channel with its feed (one at a time per room). */
  #sync(room: string): void {
    const next = (this.#pending.get(room) ?? Promise.resolve()).then(() => this.#reconcile(room)).catch(() => this.#retryLater(room));
    this.#pending.set(room, next);
    void next.then(() => {
      if (this.#pending.get(room) === next) this.#pending.delete(room);
    });
  }

  async #reconcile(room: string): Promise<void> {
    if (this.#closed) return;
    const have = this.#subscribed.get(room);
    if (have === this.#feeds.get(room)?.onPublished) return;
    const sub = await this.#subscriberClient();
    const channel = this.#source.channel(room);
    if (have) {
      await sub.unsubscribe(channel, have);
      this.#subscribed.delete(room);
    }
    const feed = this.#feeds.get(room);
    if (!feed || this.#closed) return;
    if (!feed.started) {
      // Live from now on: what was appended before is the bus's fetch to find.
      feed.lastSeen = Math.max(feed.lastSeen, await this.#source.lastId(room));
      feed.started = true;
    }
    if (this.#feeds.get(room) !== feed) return; // unwatched meanwhile: the queued reconciliation handles it
    await sub.subscribe(channel, feed.onPublished);
    this.#subscribed.set(room, feed.onPublished);
    feed.active = true;
    // A membership change published before this subscription existed was not seen: read the list afresh.
    this.#source.membersChanged(room);
    this.#catchUp(feed);
  }

  /** Live delivery is best effort (the bus still fetches): a failed subscribe is tried again while wanted. */
  #retryLater(room: string): void {
    if (this.#closed || !this.#feeds.has(room)) return;
    setTimeout(() => this.#sync(room), RETRY_MS).unref?.();
  }

  #subscriberClient(): Promise<RedisClientLike> {
    this.#subscriber ??= this.#connection.client().then(async (client) => {
      this.#connection.assertOpen();
      const sub = client.duplicate();
      this.#connection.adopt(sub);
      const lost = () => {
        this.#live = false;
        this.#source.membersChanged(undefined);
      };
      sub.on('error', lost);
      sub.on('end', lost);
      sub.on('reconnecting', lost);
      // After a reconnect node-redis subscribes again by itself; catch up on what was appended while it was away.
      sub.on('ready', () => {
        this.#live = true;
        this.#source.membersChanged(undefined);
        for (const feed of this.#feeds.values()) if (feed.active) this.#catchUp(feed);
      });
      await sub.connect();
      this.#connection.assertOpen();
      this.#live = true;
      return sub;
    });
    // A failed connection is not kept: the retry (or the next watch) starts a new one.
    const pending = this.#subscriber;
    pending.catch(() => {
      if (this.#subscriber === pending) this.#subscriber = undefined;
    });
    return pending;
  }

  #onPublished(feed: RoomFeed, raw: string): void {
    if (raw === 'members') {
      this.#source.membersChanged(feed.room);
      return;
    }
    const newline = raw.indexOf('\n');
    const id = Number(raw.slice(0, newline));
    const writerEnd = raw.indexOf('\n', newline + 1);
    if (raw.slice(newline + 1, writerEnd) === this.#writerId) {
      // Our own append: its listeners were called by append itself. Only move the catch-up mark past it.
      if (feed.queued === 0) feed.lastSeen = Math.max(feed.lastSeen, id);
      else {
        this.#deliver(feed, async () => {
          feed.lastSeen = Math.max(feed.lastSeen, id);
          return [];
        });
      }
      return;
    }
    const value = raw.slice(writerEnd + 1);
    // Nothing queued before it and its audience known: deliver now, without a promise per message.
    if (feed.queued === 0) {
      let message: StoredMessage | undefined;
      try {
        message = this.#source.parse(feed.room, id, value);
      } catch {
        return; // unreadable: the bus's fetch reports it
      }
      if (message) {
        this.#emit(feed, [message]);
        return;
      }
    }
    this.#deliver(feed, () => this.#source.decode(feed.room, id, value).then((m) => [m]));
  }

  /** Delivers what was appended after the last id seen (up to a page; the bus fetches the rest). */
  #catchUp(feed: RoomFeed): void {
    this.#deliver(feed, () => this.#source.history(feed.room, feed.lastSeen, CATCH_UP_LIMIT));
  }

  #deliver(feed: RoomFeed, load: () => Promise<StoredMessage[]>): void {
    feed.queued++;
    feed.chain = feed.chain
      .then(load)
      .then((messages) => this.#emit(feed, messages))
      .catch(() => {})
      .finally(() => {
        feed.queued--;
      });
  }

  #emit(feed: RoomFeed, messages: StoredMessage[]): void {
    for (const message of messages) {
      if (message.id <= feed.lastSeen || this.#feeds.get(feed.room) !== feed) continue;
      feed.lastSeen = message.id;
      for (const listener of feed.listeners) listener(message);
    }
  }
}
