import { randomUUID } from 'node:crypto';
import { membersChanged } from '../../core/errors.js';
import type {
  AppendResult,
  GetMembersOptions,
  MemberRecord,
  MemberState,
  MemberUpdate,
  MessageDraft,
  RoomSnapshot,
  StorageBackend,
  StoredMessage,
  StreamChannel,
  StreamSignal,
} from '../../core/types.js';
import { assertId } from '../../core/validate.js';
import { byId, cursorExpired, replyRefused, StreamChannels, toState, unknownAgent } from '../kit/index.js';
import { AppendBatches, type AppendOutcome, type QueuedAppend } from './batches.js';
import { MessageCodec } from './codec.js';
import { RedisConnection } from './connection.js';
import { LiveFeeds } from './live.js';
import { NAME, type RedisStorageOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { APPEND } from './scripts/append.js';
import { FETCH_THREAD } from './scripts/conversations.js';
import { ACK, GET_MEMBERS, PUT_MEMBER, REMOVE_MEMBER } from './scripts/members.js';
import { FETCH, FETCH_LATEST, GET_ROOM, HISTORY } from './scripts/reads.js';
import { RedisStreamRelay } from './streams.js';

/** A member list as read, with the membership version (`mver`) it reflects. */
interface MemberList {
  readonly version: string;
  readonly records: readonly MemberRecord[];
}

/** What this backend knows of a member list it handed out: its room, version and member ids. */
interface ListVersion {
  readonly room: string;
  readonly version: string;
  readonly ids: ReadonlySet<string>;
}

/**
 * Keeps rooms in Redis, shared by any number of processes. Every operation is
 * one Lua script (EVALSHA, falling back to EVAL after a restart flushed the
 * script cache), so id assignment, the idempotency check, storage, the
 * delivery index and retention happen atomically. Appends are published on a
 * per-room channel, so `watch` delivers across processes. All keys of a room
 * share a `{room}` hash tag: a room lives on one Redis Cluster slot.
 *
 * Failures (Redis down, restarting, frozen, or a TLS certificate that does not
 * verify) reject within `commandTimeoutMs` with `STORAGE_FAILURE`; the client
 * reconnects by itself when Redis is back.
 *
 * @example
 * ```ts
 * const storage = new RedisStorageBackend({ url: 'redis://127.0.0.1:6379', keyPrefix: 'chat:', maxMessages: 100_000 });
 * const bus = new MessageBus(storage, new BroadcastRoutingPolicy(), { room: 'lobby' });
 * // A timed-out send may or may not have been stored: the same idempotencyKey makes the retry safe.
 * const msg = new Message('alice', 'hello', undefined, { idempotencyKey: 'alice-42' });
 * try { await bus.sendMessage(msg); } catch { await bus.sendMessage(msg); }
 * ```
 * @example
 * ```ts
 * // TLS with a private CA, as a Redis ACL user (see the README for the ACL rule).
 * const storage = new RedisStorageBackend({
 *   url: 'rediss://bus:s3cret@redis.internal:6380',
 *   tls: { ca: readFileSync('ca.crt'), servername: 'redis.internal' },
 * });
 * ```
 */
export class RedisStorageBackend implements StorageBackend {
  readonly name = NAME;
  readonly #options: ResolvedOptions;
  readonly #connection: RedisConnection;
  readonly #codec = new MessageCodec();
  readonly #feeds: LiveFeeds;
  /** Identifies this instance's appends on the pub/sub channel. */
  readonly #writerId = randomUUID();
  /** The member list last read per room (served without a round trip while the room's feed is live). */
  readonly #members = new Map<string, MemberList>();
  /** The version of every list `getMembers` handed out: an append checks its routing was done on the current one. */
  readonly #versionOf = new WeakMap<readonly MemberRecord[], ListVersion>();
  /** Appends issued together go to Redis as one script call (group commit, see batches.ts). */
  readonly #batches = new AppendBatches((room, batch) => this.#appendBatch(room, batch));
  readonly #streams: StreamChannels;

  constructor(options: RedisStorageOptions) {
    this.#options = resolveOptions(options);
    this.#connection = new RedisConnection(
      this.#options,
      () => {
        // A (re)connection may be to a Redis that lost its data and numbers audiences afresh: forget what was cached.
        this.#codec.forget();
        this.#members.clear();
      },
      () => this.#batches.flush(),
    );
    this.#feeds = new LiveFeeds(
      this.#connection,
      {
        channel: (room) => this.#key(room, 'live'),
        lastId: async (room) => Number((await this.#connection.command('watch', ['HGET', this.#key(room, 'meta'), 'last'])) ?? 0),
        history: (room, after, limit) => this.history(room, after, limit),
        parse: (room, id, value) => this.#codec.parse(room, id, value),
        decode: (room, id, value) => this.#decode(room, id, value),
        membersChanged: (room) => (room === undefined ? this.#members.clear() : this.#members.delete(room)),
      },
      this.#writerId,
    );
    const relay: RedisStreamRelay = new RedisStreamRelay({
      connection: this.#connection,
      subscriber: () => this.#feeds.subscriber(),
      channel: (room) => this.#key(room, 'streams'),
      writerId: this.#writerId,
      receive: (room, signal) => this.#streams.receive(room, signal),
    });
    this.#streams = new StreamChannels(relay);
  }

  async getMembers(room: string, options?: GetMembersOptions): Promise<readonly MemberRecord[]> {
    // While this process watches the room, every membership change reaches it over pub/sub (the scripts publish
    // one), so the cached list is nearly always current and a send costs no extra round trip. The append script
    // checks the list's version, so a change still in flight makes the bus route again rather than go unseen.
    const cached = this.#members.get(room);
    if (cached && !options?.fresh && this.#feeds.isLive(room)) {
      this.#connection.assertOpen();
      return cached.records;
    }
    const [version, joins, online, groups] = (await this.#script('getMembers', room, GET_MEMBERS, [])) as [
      string,
      string[],
      string[],
      string[],
    ];
    const current = this.#members.get(room);
    if (current?.version === version) return current.records;
    const onlineOf = pairs(online);
    const groupsOf = pairs(groups);
    const records: MemberRecord[] = [];
    for (let i = 0; i < joins.length; i += 2) {
      const id = joins[i] as string;
      records.push({
        id,
        online: onlineOf.get(id) === '1',
        groups: JSON.parse(groupsOf.get(id) ?? '[]'),
        joinedAfter: Number(joins[i + 1]),
      });
    }
    records.sort(byId);
    const frozen = Object.freeze(records);
    this.#members.set(room, { version, records: frozen });
    this.#versionOf.set(frozen, { room, version, ids: new Set(records.map((record) => record.id)) });
    return frozen;
  }

  async getRoom(room: string): Promise<RoomSnapshot> {
    const [lastId, oldestId, ...rows] = (await this.#script('getRoom', room, GET_ROOM, [])) as [number, number, ...unknown[][]];
    const members: MemberState[] = rows.map((row) => {
      const [id, online, groups, joinedAfter, cursor, sentCount, lastAt, lastRoutedId] = row as [
        string,
        string,
        string,
        number,
        number,
        number,
        string | null,
        number,
      ];
      const lastSentAt = lastAt === null ? null : Number(lastAt);
      return toState({ id, online: online === '1', groups: JSON.parse(groups), joinedAfter, cursor, sentCount, lastSentAt }, lastRoutedId);
    });
    members.sort(byId);
    return { room, lastId, oldestId, members };
  }

  async listRooms(): Promise<string[]> {
    const rooms = (await this.#connection.command('listRooms', ['SMEMBERS', `${this.#options.prefix}rooms`])) as string[];
    return rooms.sort();
  }

  async putMember(room: string, update: MemberUpdate): Promise<MemberRecord> {
    assertId(room, `[${NAME}] room`);
    // The room list is a key of its own (outside the room's slot), so it is kept beside the script.
    const [, result] = await Promise.all([
      this.#connection.command('putMember', ['SADD', `${this.#options.prefix}rooms`, room]),
      this.#script('putMember', room, PUT_MEMBER, [
        update.id,
        update.online ? '1' : '0',
        update.groups === undefined ? '' : JSON.stringify(update.groups),
      ]),
    ]);
    this.#members.delete(room);
    const [joinedAfter, groups] = result as [number, string];
    return { id: update.id, online: update.online, groups: JSON.parse(groups), joinedAfter };
  }

  async removeMember(room: string, agentId: string): Promise<boolean> {
    this.#members.delete(room);
    const removed = (await this.#script('removeMember', room, REMOVE_MEMBER, [agentId])) === 1;
    this.#members.delete(room);
    return removed;
  }

  async append(room: string, draft: MessageDraft): Promise<AppendResult> {
    assertId(room, `[${NAME}] room`);
    // The membership version the bus routed with, when the list came from here: the script refuses a stale one.
    // Sender and recipients found in that list need no lookup in Redis while the version is current.
    const routed = draft.members && this.#versionOf.get(draft.members);
    const current = routed?.room === room ? routed : undefined;
    const checked =
      current?.ids.has(draft.sender) === true && (draft.audience !== 'list' || draft.recipients.every((id) => current.ids.has(id)));
    const outcome = await new Promise<AppendOutcome>((resolve, reject) => {
      this.#batches.add(room, { draft, version: current?.version ?? '', checked, resolve, reject });
    });
    if (outcome.status === -1) throw unknownAgent(NAME, draft.sender, room);
    if (outcome.status === -4) throw replyRefused(NAME, room);
    if (outcome.status === -3) {
      if (this.#members.get(room)?.version !== outcome.result) this.#members.delete(room);
      throw membersChanged(NAME, room);
    }
    const message = await this.#decode(room, outcome.result as number, outcome.text);
    // This instance's own watchers hear of it now; the pub/sub echo (which carries our writer id) is skipped.
    if (outcome.status === 1) this.#feeds.deliverOwn(room, message);
    return { message, duplicate: outcome.status === 0 };
  }

  async fetch(room: string, agentId: string, after: number | null, limit: number): Promise<StoredMessage[]> {
    const reply = (await this.#script('fetch', room, FETCH, [agentId, after === null ? '' : String(after), String(limit)])) as unknown[];
    if (reply[0] === -1) throw unknownAgent(NAME, agentId, room);
    if (reply[0] === -2) {
      const [, oldestId, from] = reply as [number, number, number];
      throw cursorExpired(NAME, room, from, oldestId);
    }
    const [, ids, values] = reply as [number, number[], string[]];
    return Promise.all(ids.map((id, i) => this.#decode(room, id, values[i] as string)));
  }

  async fetchThread(room: string, agentId: string, thread: number, after: number, limit: number): Promise<StoredMessage[]> {
    const args = [agentId, String(thread), String(after), String(limit)];
    return this.#decodeAll(room, agentId, await this.#script('fetchThread', room, FETCH_THREAD, args));
  }

  async fetchLatest(room: string, agentId: string, before: number | null, limit: number): Promise<StoredMessage[]> {
    const args = [agentId, before === null ? '' : String(before), String(limit)];
    return this.#decodeAll(room, agentId, await this.#script('fetchLatest', room, FETCH_LATEST, args));
  }

  async history(room: string, after: number, limit: number): Promise<StoredMessage[]> {
    const [first, values] = (await this.#script('history', room, HISTORY, [String(after), String(limit)])) as [number, (string | null)[]];
    const out: Promise<StoredMessage>[] = [];
    values.forEach((value, i) => {
      if (value !== null) out.push(this.#decode(room, first + i, value));
    });
    return Promise.all(out);
  }

  async ack(room: string, agentId: string, upTo: number): Promise<number> {
    const cursor = (await this.#script('ack', room, ACK, [agentId, String(upTo)])) as number;
    if (cursor === -1) throw unknownAgent(NAME, agentId, room);
    return cursor;
  }

  /**
   * Live feed across processes through Redis pub/sub. After (re)subscribing it
   * reads what was appended meanwhile, so a message published while the
   * subscription was being set up is not missed.
   */
  watch(room: string, listener: (message: StoredMessage) => void): () => void {
    this.#connection.assertOpen();
    assertId(room, `[${NAME}] room`);
    return this.#feeds.watch(room, listener);
  }

  /** Streams across processes: signals reach this instance's other channels at once, other processes over pub/sub. */
  openStreamChannel(room: string, listener: (signal: StreamSignal) => void): StreamChannel {
    this.#connection.assertOpen();
    assertId(room, `[${NAME}] room`);
    return this.#streams.open(room, listener);
  }

  async close(): Promise<void> {
    if (this.#connection.closed) return;
    this.#streams.clear();
    this.#feeds.close();
    this.#connection.close();
  }

  // --- internal helpers ---

  /** One append script call for `batch`: the first message where a single append has it, the others after. */
  #appendBatch(room: string, batch: readonly QueuedAppend[]): void {
    const bodies: string[] = [];
    const settle = (reply: unknown) => {
      const flat = reply as unknown[];
      const list = flat[3 * batch.length];
      if (typeof list === 'string') this.#codec.learnEpoch(room, String(flat[3 * batch.length + 1]), list);
      batch.forEach((queued, k) => {
        const status = flat[3 * k] as number;
        const text = flat[3 * k + 2] as string;
        const result = flat[3 * k + 1] as number | string;
        queued.resolve({ status, result, text: status === 1 ? this.#codec.storedValue(text, bodies[k] as string) : text });
      });
    };
    // Every failure, even one building the call, reaches each append of the batch (a settled one ignores it).
    new Promise<unknown>((resolve) => {
      const [head, ...rest] = batch as [QueuedAppend, ...QueuedAppend[]];
      const { maxMessages } = this.#options;
      const args = this.#codec.appendArgs(room, head.draft, maxMessages, this.#writerId, head.version, head.checked, rest.length === 0);
      bodies.push(args[3] as string);
      for (const queued of rest) {
        const fields = this.#codec.messageArgs(room, queued.draft, queued.version, queued.checked);
        bodies.push(fields[4]);
        args.push(...fields);
      }
      resolve(this.#script('append', room, APPEND, args));
    })
      .then(settle)
      .catch((error: unknown) => {
        for (const queued of batch) queued.reject(error);
      });
  }

  #key(room: string, suffix: string): string {
    return `${this.#options.prefix}{${room}}:${suffix}`;
  }

  /** Runs a script on the room: KEYS = its `meta` hash, ARGV = its key prefix, then `args`. */
  #script(operation: string, room: string, script: string, args: string[]): Promise<unknown> {
    // Room ids are part of key names and their hash tag: only the bus's id alphabet (no braces) may get there.
    assertId(room, `[${NAME}] room`);
    return this.#connection.script(operation, room, script, [this.#key(room, 'meta')], [`${this.#options.prefix}{${room}}:`, ...args]);
  }

  /** A read script's `{1, ids, values}` as messages, `{-1}` as `UNKNOWN_AGENT`. */
  #decodeAll(room: string, agentId: string, reply: unknown): Promise<StoredMessage[]> {
    const [status, ids, values] = reply as [number, number[], string[]];
    if (status === -1) throw unknownAgent(NAME, agentId, room);
    return Promise.all(ids.map((id, i) => this.#decode(room, id, values[i] as string)));
  }

  #decode(room: string, id: number, value: string): Promise<StoredMessage> {
    // A broadcast whose audience this process has not seen yet reads it once: audiences never change.
    return this.#codec.decode(room, id, value, async (epoch) => {
      return (await this.#connection.command('fetch', ['GET', this.#key(room, `epl:${epoch}`)])) as string | null;
    });
  }
}

function pairs(flat: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i < flat.length; i += 2) map.set(flat[i] as string, flat[i + 1] as string);
  return map;
}
