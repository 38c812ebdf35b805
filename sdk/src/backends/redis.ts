import { createHash, randomUUID } from 'node:crypto';
import { asStorageFailure, MessageBusError } from '../core/errors.js';
import type {
  AppendResult,
  MemberRecord,
  MemberState,
  MemberUpdate,
  MessageDraft,
  RoomSnapshot,
  StorageBackend,
  StoredMessage,
} from '../core/types.js';
import { assertId, deepFreeze } from '../core/validate.js';
import { ACK, APPEND, FETCH, GET_MEMBERS, GET_ROOM, HISTORY, PUT_MEMBER, REMOVE_MEMBER } from './redis-scripts.js';
import { byId, unknownAgent } from './shared.js';

const NAME = 'redis';

/**
 * The part of a node-redis (v4/v5) client this backend uses. Pass your own
 * client as `{ client }` to share its connection settings (TLS, auth); the
 * backend then never closes it.
 */
export interface RedisClientLike {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  sendCommand(args: string[]): Promise<unknown>;
  duplicate(): RedisClientLike;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  on(event: 'error' | 'ready' | 'end' | 'reconnecting', listener: (...args: unknown[]) => void): unknown;
  /** node-redis 5 (closes at once); node-redis 4 has `disconnect` instead. */
  destroy?(): void;
  disconnect?(): Promise<unknown>;
}

/** Options of `RedisStorageBackend`: a `url` (the backend connects and reconnects itself) or a node-redis `client`. */
export interface RedisStorageOptions {
  /** e.g. `redis://127.0.0.1:6379`. */
  url?: string;
  /** An existing node-redis client (connected or not). */
  client?: RedisClientLike;
  /** Prefix of every key. Default `mmb:`. */
  keyPrefix?: string;
  /** Keep at most this many messages per room, trimming the oldest. Default: keep all. */
  maxMessages?: number;
  /**
   * Longest wait for any operation (connecting included), in ms; then it fails with `STORAGE_FAILURE`.
   * Default 2000. A send that times out has an unknown outcome: retry it with the same `idempotencyKey`.
   */
  commandTimeoutMs?: number;
}

/**
 * Keeps rooms in Redis, shared by any number of processes. Every operation is
 * one Lua script (EVALSHA, falling back to EVAL after a restart flushed the
 * script cache), so id assignment, the idempotency check, storage, the
 * delivery index and retention happen atomically. Appends are published on a
 * per-room channel, so `watch` delivers across processes. All keys of a room
 * share a `{room}` hash tag: a room lives on one Redis Cluster slot.
 *
 * Failures (Redis down, restarting or frozen) reject within `commandTimeoutMs`
 * with `STORAGE_FAILURE`; the client reconnects by itself when Redis is back.
 *
 * @example
 * ```ts
 * const storage = new RedisStorageBackend({ url: 'redis://127.0.0.1:6379', keyPrefix: 'chat:', maxMessages: 100_000 });
 * const bus = new MessageBus(storage, new BroadcastRoutingPolicy(), { room: 'lobby' });
 * // A timed-out send may or may not have been stored: the same idempotencyKey makes the retry safe.
 * const msg = new Message('alice', 'hello', undefined, { idempotencyKey: 'alice-42' });
 * try { await bus.sendMessage(msg); } catch { await bus.sendMessage(msg); }
 * ```
 */
export class RedisStorageBackend implements StorageBackend {
  readonly name = NAME;
  readonly #options: RedisStorageOptions;
  readonly #prefix: string;
  readonly #maxMessages: number;
  readonly #timeoutMs: number;
  #client: Promise<RedisClientLike> | undefined;
  #subscriber: Promise<RedisClientLike> | undefined;
  /** The clients this backend created, reachable synchronously so `close` never waits on a hanging connect. */
  readonly #created = new Set<RedisClientLike>();
  /** True while the pub/sub connection is up: only then can a cached member list be trusted. */
  #live = false;
  /** Identifies this instance's appends on the pub/sub channel. */
  readonly #token = randomUUID();
  readonly #shas = new Map<string, string>();
  /** Audience epochs are immutable: their member lists are cached for good (bounded). */
  readonly #epochs = new Map<string, readonly string[]>();
  readonly #exceptSender = new Map<string, readonly string[]>();
  /** The epoch whose list this process last saw per room, so the append script sends it only when it changes. */
  readonly #knownEpoch = new Map<string, string>();
  readonly #members = new Map<string, { version: string; records: readonly MemberRecord[] }>();
  readonly #watches = new Map<string, RoomWatch>();
  #closed = false;

  constructor(options: RedisStorageOptions) {
    const { url, client, keyPrefix = 'mmb:', maxMessages, commandTimeoutMs = 2000 } = options ?? {};
    if ((url === undefined) === (client === undefined)) {
      throw new MessageBusError(
        'INVALID_ARGUMENT',
        `[${NAME}] pass exactly one of { url: 'redis://host:6379' } or { client } (a node-redis client)`,
      );
    }
    if (url !== undefined && (typeof url !== 'string' || !/^rediss?:\/\//.test(url))) {
      throw new MessageBusError('INVALID_ARGUMENT', `[${NAME}] url must start with redis:// or rediss://; got ${JSON.stringify(url)}`);
    }
    if (client !== undefined && typeof client?.sendCommand !== 'function') {
      throw new MessageBusError('INVALID_ARGUMENT', `[${NAME}] client must be a node-redis client (from createClient)`);
    }
    if (typeof keyPrefix !== 'string' || /[{}]/.test(keyPrefix)) {
      throw new MessageBusError('INVALID_ARGUMENT', `[${NAME}] keyPrefix must be a string without braces (they are the room's hash tag)`);
    }
    if (maxMessages !== undefined && (!Number.isInteger(maxMessages) || maxMessages < 1)) {
      throw new MessageBusError('INVALID_ARGUMENT', `[${NAME}] maxMessages must be a positive integer; got ${maxMessages}`);
    }
    if (!Number.isInteger(commandTimeoutMs) || commandTimeoutMs < 1) {
      throw new MessageBusError('INVALID_ARGUMENT', `[${NAME}] commandTimeoutMs must be a positive integer; got ${commandTimeoutMs}`);
    }
    this.#options = options;
    this.#prefix = keyPrefix;
    this.#maxMessages = maxMessages ?? 0;
    this.#timeoutMs = commandTimeoutMs;
  }

  async getMembers(room: string): Promise<readonly MemberRecord[]> {
    // While this process watches the room, every membership change reaches it over pub/sub (the scripts publish
    // one), so the cached list is as fresh as a read would be: the hot path of a send then costs no round trip.
    const cached = this.#members.get(room);
    if (cached && this.#live && this.#watches.get(room)?.active) {
      this.#assertOpen();
      return cached.records;
    }
    const [version, joins, online, groups] = (await this.#script('getMembers', room, GET_MEMBERS, [])) as [
      string,
      string[],
      string[],
      string[],
    ];
    if (cached?.version === version) return cached.records;
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
      return {
        id,
        online: online === '1',
        groups: JSON.parse(groups),
        joinedAfter,
        cursor,
        lastRoutedId,
        sentCount,
        lastSentAt: lastAt === null ? null : Number(lastAt),
      };
    });
    members.sort(byId);
    return { room, lastId, oldestId, members };
  }

  async listRooms(): Promise<string[]> {
    const rooms = (await this.#command('listRooms', ['SMEMBERS', `${this.#prefix}rooms`])) as string[];
    return rooms.sort();
  }

  async putMember(room: string, update: MemberUpdate): Promise<MemberRecord> {
    assertId(room, `[${NAME}] room`);
    // The room list is a key of its own (outside the room's slot), so it is kept beside the script.
    const [, result] = await Promise.all([
      this.#command('putMember', ['SADD', `${this.#prefix}rooms`, room]),
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
    return (await this.#script('removeMember', room, REMOVE_MEMBER, [agentId])) === 1;
  }

  async append(room: string, draft: MessageDraft): Promise<AppendResult> {
    const kind = draft.audience === 'list' ? 'l' : draft.audience === 'members' ? 'm' : 'x';
    let body = `{"t":${draft.timestamp},"s":${JSON.stringify(draft.sender)},"p":${JSON.stringify(draft.routing.policy)},"q":${JSON.stringify(draft.routing.requested)}`;
    if (draft.idempotencyKey !== undefined) body += `,"k":${JSON.stringify(draft.idempotencyKey)}`;
    body += `,"c":${draft.contentJson}}`;
    const idem = draft.idempotencyKey === undefined ? '' : `${draft.sender}\u0000${draft.idempotencyKey}`;
    const args = [
      draft.sender,
      kind,
      kind === 'l' ? draft.recipients.join(',') : '',
      idem,
      String(this.#maxMessages),
      body,
      String(draft.timestamp),
      this.#knownEpoch.get(room) ?? '',
      this.#token,
    ];
    const reply = (await this.#script('append', room, APPEND, args)) as [number, number?, string?, string?];
    if (reply[0] === -1) throw unknownAgent(NAME, draft.sender, room);
    const [status, id, value, epochList] = reply as [number, number, string, string | null];
    if (typeof epochList === 'string') this.#learnEpoch(room, value, epochList);
    const message = await this.#decode(room, id, value);
    // This instance's own watchers hear of it now; the pub/sub echo (which carries our token) is skipped.
    if (status === 1) for (const listener of this.#watches.get(room)?.listeners ?? []) listener(message);
    return { message, duplicate: status === 0 };
  }

  async fetch(room: string, agentId: string, after: number | null, limit: number): Promise<StoredMessage[]> {
    const reply = (await this.#script('fetch', room, FETCH, [agentId, after === null ? '' : String(after), String(limit)])) as unknown[];
    if (reply[0] === -1) throw unknownAgent(NAME, agentId, room);
    if (reply[0] === -2) {
      const [, oldestId, from] = reply as [number, number, number];
      throw new MessageBusError(
        'CURSOR_EXPIRED',
        `[${NAME}] messages after ${from} in room "${room}" were trimmed by retention; the oldest still available is ${oldestId}: fetch from ${oldestId - 1} to continue`,
        { details: { oldestId } },
      );
    }
    const [, ids, values] = reply as [number, number[], string[]];
    return Promise.all(ids.map((id, i) => this.#decode(room, id, values[i] as string)));
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
    this.#assertOpen();
    assertId(room, `[${NAME}] room`);
    let entry = this.#watches.get(room);
    if (!entry) {
      entry = { listeners: new Set(), lastSeen: -1, chain: Promise.resolve(), queued: 0, active: false };
      this.#watches.set(room, entry);
      void this.#subscribe(room, entry);
    }
    entry.listeners.add(listener);
    const watched = entry;
    return () => {
      watched.listeners.delete(listener);
      if (watched.listeners.size === 0 && this.#watches.get(room) === watched) {
        this.#watches.delete(room);
        if (watched.active) void this.#subscriber?.then((sub) => sub.unsubscribe(this.#key(room, 'live'))).catch(() => {});
      }
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#watches.clear();
    for (const client of this.#created) {
      if (client.destroy) client.destroy();
      else void client.disconnect?.().catch(() => {});
    }
    this.#created.clear();
  }

  // --- internal helpers ---

  #key(room: string, suffix: string): string {
    return `${this.#prefix}{${room}}:${suffix}`;
  }

  #assertOpen(): void {
    if (this.#closed) throw new MessageBusError('CLOSED', `[${NAME}] the storage backend is closed`);
  }

  /** Runs a script on the room: EVALSHA, or EVAL when Redis does not know it (a restart flushed the cache). */
  async #script(operation: string, room: string, script: string, args: string[]): Promise<unknown> {
    // Room ids are part of key names and their hash tag: only the bus's id alphabet (no braces) may get there.
    assertId(room, `[${NAME}] room`);
    let sha = this.#shas.get(script);
    if (!sha) this.#shas.set(script, (sha = createHash('sha1').update(script).digest('hex')));
    const keys = ['1', this.#key(room, 'meta'), `${this.#prefix}{${room}}:`, ...args];
    return this.#run(operation, room, async (client) => {
      try {
        return await client.sendCommand(['EVALSHA', sha, ...keys]);
      } catch (error) {
        if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
        return client.sendCommand(['EVAL', script, ...keys]);
      }
    });
  }

  async #command(operation: string, args: string[]): Promise<unknown> {
    return this.#run(operation, undefined, (client) => client.sendCommand(args));
  }

  /** Runs `body` with a connected client, bounded by `commandTimeoutMs`; every failure becomes `STORAGE_FAILURE`. */
  async #run<T>(operation: string, room: string | undefined, body: (client: RedisClientLike) => Promise<T>): Promise<T> {
    this.#assertOpen();
    const where = room === undefined ? '' : ` in room "${room}"`;
    // Loading node-redis (once) is not talking to Redis: it does not count against the timeout.
    if (!this.#options.client) await loadRedis();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const unknown =
          operation === 'append' ? ' The outcome is unknown: it may have been stored. Retrying with the same idempotencyKey is safe.' : '';
        reject(
          new MessageBusError(
            'STORAGE_FAILURE',
            `[${NAME}] ${operation}${where} timed out after ${this.#timeoutMs} ms: Redis did not answer.${unknown}`,
            {
              details: { timeoutMs: this.#timeoutMs, outcomeUnknown: operation === 'append' },
            },
          ),
        );
      }, this.#timeoutMs);
    });
    try {
      return await Promise.race([this.#connected().then(body), timeout]);
    } catch (error) {
      if (MessageBusError.is(error)) throw error;
      throw asStorageFailure(NAME, `${operation}${where}`, error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The command client, connected. A failed first connection is forgotten so the next operation tries again. */
  #connected(): Promise<RedisClientLike> {
    this.#client ??= this.#open().catch((error) => {
      this.#client = undefined;
      throw error;
    });
    return this.#client;
  }

  async #open(): Promise<RedisClientLike> {
    const given = this.#options.client;
    const client = given ?? (await this.#create());
    if (this.#closed) throw new MessageBusError('CLOSED', `[${NAME}] the storage backend is closed`);
    if (given === undefined) this.#created.add(client);
    // A (re)connection may be to a Redis that lost its data and numbers audiences afresh: forget what was cached.
    client.on('ready', () => this.#forget());
    if (!client.isOpen) await client.connect();
    return client;
  }

  async #create(): Promise<RedisClientLike> {
    let redis: typeof import('redis');
    try {
      redis = await import('redis');
    } catch (error) {
      throw new MessageBusError(
        'MISCONFIGURED',
        `[${NAME}] RedisStorageBackend needs the "redis" package (node-redis): npm install redis`,
        { cause: error },
      );
    }
    const client = redis.createClient({
      url: this.#options.url as string,
      // Fail fast while disconnected instead of queueing: a queued send would run at some unknown later time.
      disableOfflineQueue: true,
      socket: { connectTimeout: this.#timeoutMs, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000) },
    }) as unknown as RedisClientLike;
    // node-redis emits connection errors as events; operations report them through their own rejections.
    client.on('error', () => {});
    return client;
  }

  async #subscribe(room: string, entry: RoomWatch): Promise<void> {
    const channel = this.#key(room, 'live');
    try {
      this.#subscriber ??= this.#connected().then(async (client) => {
        this.#assertOpen();
        const sub = client.duplicate();
        this.#created.add(sub);
        const lost = () => {
          this.#live = false;
          this.#members.clear();
        };
        sub.on('error', lost);
        sub.on('end', lost);
        sub.on('reconnecting', lost);
        // After a reconnect, node-redis subscribes again; catch up on what was appended while it was away.
        sub.on('ready', () => {
          this.#live = true;
          this.#members.clear();
          for (const [r, e] of this.#watches) if (e.active) this.#catchUp(r, e);
        });
        await sub.connect();
        // Closed while connecting: close() ran before this client existed.
        if (this.#closed) sub.destroy?.();
        this.#assertOpen();
        this.#live = true;
        return sub;
      });
      // A failed connection is not kept: the retry below (or the next watch) starts a new one.
      const pending = this.#subscriber;
      pending.catch(() => {
        if (this.#subscriber === pending) this.#subscriber = undefined;
      });
      const sub = await this.#subscriber;
      const last = Number((await this.#command('watch', ['HGET', this.#key(room, 'meta'), 'last'])) ?? 0);
      entry.lastSeen = Math.max(entry.lastSeen, last);
      if (this.#watches.get(room) !== entry) return;
      await sub.subscribe(channel, (raw) => this.#onPublished(room, entry, raw));
      entry.active = true;
      // A membership change published before this subscription existed was not seen: read the list afresh.
      this.#members.delete(room);
      this.#catchUp(room, entry);
    } catch {
      // Live delivery is best effort: the bus still fetches, and the next watch retries.
      if (this.#watches.get(room) === entry && !this.#closed) setTimeout(() => void this.#subscribe(room, entry), 1000).unref?.();
    }
  }

  #onPublished(room: string, entry: RoomWatch, raw: string): void {
    if (raw === 'members') {
      this.#members.delete(room);
      return;
    }
    const newline = raw.indexOf('\n');
    const id = Number(raw.slice(0, newline));
    const tokenEnd = raw.indexOf('\n', newline + 1);
    if (raw.slice(newline + 1, tokenEnd) === this.#token) {
      // Our own append: its watchers were called by append itself. Only move the catch-up mark past it.
      if (entry.queued === 0) entry.lastSeen = Math.max(entry.lastSeen, id);
      else {
        this.#deliver(room, entry, async () => {
          entry.lastSeen = Math.max(entry.lastSeen, id);
          return [];
        });
      }
      return;
    }
    const value = raw.slice(tokenEnd + 1);
    // Nothing queued before it and its audience known: deliver now, without a promise per message.
    if (entry.queued === 0) {
      let message: StoredMessage | undefined;
      try {
        message = this.#parse(room, id, value);
      } catch {
        return; // unreadable: the bus's fetch reports it
      }
      if (message) {
        this.#emit(room, entry, [message]);
        return;
      }
    }
    this.#deliver(room, entry, () => this.#decode(room, id, value).then((m) => [m]));
  }

  /** Delivers what was appended after the last id seen (up to 1000; the bus fetches the rest). */
  #catchUp(room: string, entry: RoomWatch): void {
    this.#deliver(room, entry, () => this.history(room, entry.lastSeen, 1000));
  }

  /** Calls the listeners in id order: deliveries of one room run one after another. */
  #deliver(room: string, entry: RoomWatch, load: () => Promise<StoredMessage[]>): void {
    entry.queued++;
    entry.chain = entry.chain
      .then(load)
      .then((messages) => this.#emit(room, entry, messages))
      .catch(() => {})
      .finally(() => {
        entry.queued--;
      });
  }

  #emit(room: string, entry: RoomWatch, messages: StoredMessage[]): void {
    for (const message of messages) {
      if (message.id <= entry.lastSeen || this.#watches.get(room) !== entry) continue;
      entry.lastSeen = message.id;
      for (const listener of entry.listeners) listener(message);
    }
  }

  #forget(): void {
    this.#epochs.clear();
    this.#exceptSender.clear();
    this.#knownEpoch.clear();
    this.#members.clear();
  }

  #learnEpoch(room: string, value: string, list: string): void {
    const epoch = value.slice(1, value.indexOf('\n'));
    this.#remember(room, epoch, list);
    this.#knownEpoch.set(room, epoch);
  }

  #remember(room: string, epoch: string, list: string): readonly string[] {
    const members = Object.freeze(list === '' ? [] : list.split(','));
    this.#epochs.set(`${room}\u0000${epoch}`, members);
    if (this.#epochs.size > 10_000) this.#epochs.delete(this.#epochs.keys().next().value as string);
    return members;
  }

  async #epoch(room: string, epoch: string): Promise<readonly string[]> {
    const cached = this.#epochs.get(`${room}\u0000${epoch}`);
    if (cached) return cached;
    const list = (await this.#command('fetch', ['GET', this.#key(room, `epl:${epoch}`)])) as string | null;
    if (list === null)
      throw new MessageBusError('STORAGE_FAILURE', `[${NAME}] the audience of a broadcast in room "${room}" is missing (epoch ${epoch})`);
    return this.#remember(room, epoch, list);
  }

  /** Turns a stored `<head>\n<body>` into a `StoredMessage`; a value that does not parse is `STORAGE_FAILURE`. */
  async #decode(room: string, id: number, value: string): Promise<StoredMessage> {
    try {
      const message = this.#parse(room, id, value);
      if (message) return message;
      // A broadcast whose audience this process has not seen yet: read it (once; audiences never change).
      await this.#epoch(room, value.slice(1, value.indexOf('\n')));
      return this.#parse(room, id, value) as StoredMessage;
    } catch (error) {
      throw asStorageFailure(NAME, `reading message ${id} of room "${room}"`, error);
    }
  }

  /** The message, or `undefined` when it is a broadcast to an audience not in the cache. */
  #parse(room: string, id: number, value: string): StoredMessage | undefined {
    const newline = value.indexOf('\n');
    const head = value.slice(0, newline);
    let recipients: readonly string[];
    let sender: string | undefined;
    let body: { t: number; s: string; p: string; q: string[] | null; k?: string; c: unknown } | undefined;
    if (head[0] === 'L') recipients = Object.freeze(head.length === 1 ? [] : head.slice(1).split(','));
    else {
      const epoch = head.slice(1);
      const all = this.#epochs.get(`${room}\u0000${epoch}`);
      if (!all) return undefined;
      if (head[0] === 'M') recipients = all;
      else {
        body = JSON.parse(value.slice(newline + 1));
        sender = (body as { s: string }).s;
        const key = `${room}\u0000${epoch}\u0000${sender}`;
        let list = this.#exceptSender.get(key);
        if (!list) {
          list = Object.freeze(all.filter((a) => a !== sender));
          this.#exceptSender.set(key, list);
          if (this.#exceptSender.size > 10_000) this.#exceptSender.delete(this.#exceptSender.keys().next().value as string);
        }
        recipients = list;
      }
    }
    body ??= JSON.parse(value.slice(newline + 1)) as { t: number; s: string; p: string; q: string[] | null; k?: string; c: unknown };
    return Object.freeze({
      id,
      room,
      timestamp: body.t,
      sender: body.s,
      content: deepFreeze(body.c as never),
      recipients,
      routing: Object.freeze({ policy: body.p, requested: body.q && Object.freeze(body.q) }),
      ...(body.k === undefined ? {} : { idempotencyKey: body.k }),
    }) as StoredMessage;
  }
}

let redisModule: Promise<typeof import('redis')> | undefined;

/** node-redis is an optional peer dependency: imported on first use, with a clear error when it is missing. */
function loadRedis(): Promise<typeof import('redis')> {
  redisModule ??= import('redis').catch((error: unknown) => {
    redisModule = undefined;
    throw new MessageBusError('MISCONFIGURED', `[${NAME}] RedisStorageBackend needs the "redis" package (node-redis): npm install redis`, {
      cause: error,
    });
  });
  return redisModule;
}

interface RoomWatch {
  listeners: Set<(message: StoredMessage) => void>;
  /** Highest id delivered to the listeners. */
  lastSeen: number;
  chain: Promise<void>;
  /** Deliveries waiting in `chain`; while any is, new ones queue behind it to keep id order. */
  queued: number;
  active: boolean;
}

function pairs(flat: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i < flat.length; i += 2) map.set(flat[i] as string, flat[i + 1] as string);
  return map;
}
