import { BusMetrics } from './bus-metrics.js';
import { Emitter } from './emitter.js';
import { asStorageFailure, isMembersChanged, MessageBusError } from './errors.js';
import { BusLogger, type Logger, type LogLevel } from './logger.js';
import { Message } from './message.js';
import { MetricsRegistry } from './metrics.js';
import { roomViewOf } from './room-view.js';
import { type Routed, routeMessage } from './route.js';
import { SeenIds } from './seen-ids.js';
import { type MessageHandler, type SubscribeOptions, Subscription } from './subscription.js';
import type {
  AppendResult,
  JsonValue,
  MemberRecord,
  MemberState,
  MessageDraft,
  RoomView,
  RoutingPolicy,
  StorageBackend,
  StoredMessage,
} from './types.js';
import {
  assertCursor,
  assertId,
  copyContent,
  DEFAULT_MAX_CONTENT_DEPTH,
  isValidId,
  isWellFormed,
  MAX_CONTENT_DEPTH_LIMIT,
  resolveLimit,
  snapshotIds,
  utf8Length,
} from './validate.js';

/** Default and maximum `limit` of `fetchMessages`. */
export const DEFAULT_FETCH_LIMIT = 100;
export const MAX_FETCH_LIMIT = 1000;
/** Default `maxContentBytes`: 64 KiB of UTF-8 JSON. */
export const DEFAULT_MAX_CONTENT_BYTES = 64 * 1024;
/** Default `maxGroupsPerMember`. */
export const DEFAULT_MAX_GROUPS_PER_MEMBER = 100;
const MAX_RECIPIENTS = 1000;
// Entries read from a connectAgent groups list before repeats are dropped: bounds the work of a hostile list.
const MAX_GROUP_ENTRIES = 1000;
const FRESH = Object.freeze({ fresh: true });
/** Refusals that a newer member list could turn into a delivery. */
const MEMBERSHIP_REFUSALS = new Set(['UNKNOWN_AGENT', 'AGENT_OFFLINE', 'UNKNOWN_RECIPIENT', 'UNKNOWN_GROUP']);
const MAX_IDEMPOTENCY_KEY = 256;

/** Options of a `MessageBus`. */
export interface MessageBusOptions {
  /** The chatroom this bus serves. Default `'default'`. */
  room?: string;
  /** Where log lines go; any console-shaped object (console, pino). Default `console`. */
  logger?: Logger;
  /** Lowest level printed. Default `'warn'`. */
  logLevel?: LogLevel;
  /** A registry to share between buses; by default each bus has its own. */
  metrics?: MetricsRegistry;
  /** Largest content, as UTF-8 JSON bytes. Default 64 KiB. */
  maxContentBytes?: number;
  /**
   * How many arrays and objects content may have inside one another (`"x"` is 0, `[]` 1, `[{"a":[1]}]` 3);
   * deeper is `INVALID_MESSAGE`. Default 64, at most 1000. `exceedsContentDepth` applies the same rule.
   */
  maxContentDepth?: number;
  /** How many groups one member may be in; more is `INVALID_ARGUMENT` and changes nothing. Default 100. */
  maxGroupsPerMember?: number;
  /** Clock for message timestamps (ms since epoch). Default `Date.now`. */
  now?: () => number;
  /** Close the storage backend in `close()`. Default `true`; set `false` when several buses share one backend. */
  closeStorage?: boolean;
}

/** Options of `connectAgent`. */
export interface ConnectOptions {
  /** Replaces the agent's groups (subgroup routing). Omit to keep the groups it has. */
  groups?: string[];
}

/** Events a bus emits. */
export interface MessageBusEvents extends Record<string, unknown[]> {
  /** A message was stored in the room (by this bus or, with a watching backend, by another writer). */
  message: [StoredMessage];
  connect: [{ agent: string; groups: string[] }];
  disconnect: [{ agent: string; removed: boolean }];
  /** A subscriber or listener threw, or live delivery failed. The bus keeps working. */
  error: [MessageBusError | Error];
}

/** One member as `agents()` reports it. */
export interface AgentInfo extends MemberState {
  /** `lastRoutedId - cursor`, never negative: how many ids behind its acknowledgements the agent is. */
  lag: number;
}

/**
 * One chatroom: agents join, send and fetch; a `RoutingPolicy` decides who
 * receives each message and a `StorageBackend` keeps it.
 *
 * @example
 * ```ts
 * const bus = new MessageBus(new InMemoryStorageBackend(), new BroadcastRoutingPolicy(), { room: 'lobby' });
 * await bus.connectAgent('alice');
 * await bus.connectAgent('bob');
 * await bus.sendMessage(new Message('alice', 'hello'));
 * const [first] = await bus.fetchMessages('bob'); // { id: 1, sender: 'alice', content: 'hello', ... }
 * ```
 */
export class MessageBus {
  /** The room id. */
  readonly room: string;
  readonly storage: StorageBackend;
  readonly policy: RoutingPolicy;
  readonly #log: BusLogger;
  readonly #metrics: BusMetrics;
  readonly #maxContentBytes: number;
  readonly #maxContentDepth: number;
  readonly #maxGroups: number;
  readonly #now: () => number;
  readonly #closeStorage: boolean;
  readonly #events = new Emitter<MessageBusEvents>();
  readonly #subscriptions = new Set<Subscription>();
  /** Ids already emitted: a watching backend echoes this bus's own sends too. */
  readonly #emitted = new SeenIds();
  #stopWatching: (() => void) | undefined;
  #closed = false;

  constructor(storage: StorageBackend, policy: RoutingPolicy, options: MessageBusOptions = {}) {
    const room = options.room ?? 'default';
    assertId(room, 'room');
    if (!storage || typeof storage.append !== 'function') {
      throw new MessageBusError('INVALID_ARGUMENT', 'MessageBus needs a StorageBackend as its first argument');
    }
    if (!policy || typeof policy.route !== 'function' || typeof policy.name !== 'string') {
      throw new MessageBusError('INVALID_ARGUMENT', 'MessageBus needs a RoutingPolicy (with `name` and `route`) as its second argument');
    }
    const maxContentBytes = positiveInteger(options.maxContentBytes, DEFAULT_MAX_CONTENT_BYTES, 'maxContentBytes');
    const maxContentDepth = positiveInteger(options.maxContentDepth, DEFAULT_MAX_CONTENT_DEPTH, 'maxContentDepth', MAX_CONTENT_DEPTH_LIMIT);
    const maxGroups = positiveInteger(options.maxGroupsPerMember, DEFAULT_MAX_GROUPS_PER_MEMBER, 'maxGroupsPerMember');
    this.room = room;
    this.storage = storage;
    this.policy = policy;
    this.#log = new BusLogger(options.logger, options.logLevel);
    this.#metrics = new BusMetrics(options.metrics ?? new MetricsRegistry(), room, policy.name, () => this.#collect());
    this.#maxContentBytes = maxContentBytes;
    this.#maxContentDepth = maxContentDepth;
    this.#maxGroups = maxGroups;
    this.#now = options.now ?? Date.now;
    this.#closeStorage = options.closeStorage ?? true;
    this.#stopWatching = storage.watch?.(room, (message) => this.#onStored(message));
  }

  /** The metrics registry this bus reports to. */
  get registry(): MetricsRegistry {
    return this.#metrics.registry;
  }

  /** Adds an event listener; returns a function that removes it. */
  on<E extends keyof MessageBusEvents>(event: E, listener: (...args: MessageBusEvents[E]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /** Removes an event listener. */
  off<E extends keyof MessageBusEvents>(event: E, listener: (...args: MessageBusEvents[E]) => void): void {
    this.#events.off(event, listener);
  }

  /** Makes `agentId` a member of the room (if it is not yet) and marks it online. */
  async connectAgent(agentId: string, options: ConnectOptions = {}): Promise<MemberState> {
    this.#assertOpen();
    assertId(agentId, 'agent id');
    const requested = readInput(() => options.groups, 'INVALID_ARGUMENT', 'connectAgent options');
    const groups =
      requested === undefined
        ? undefined
        : this.#distinctGroups(agentId, snapshotIds(requested, 'groups', MAX_GROUP_ENTRIES, 'INVALID_ARGUMENT'));
    await this.#store('putMember', () => this.storage.putMember(this.room, { id: agentId, online: true, groups }));
    const member = await this.#member(agentId);
    this.#log.info('agent connected', { room: this.room, agent: agentId, groups: member.groups });
    this.#emit('connect', [{ agent: agentId, groups: member.groups }]);
    return member;
  }

  /** Marks a member offline. It stays a member: messages routed to it wait until it fetches them. */
  async disconnectAgent(agentId: string): Promise<void> {
    this.#assertOpen();
    assertId(agentId, 'agent id');
    await this.#requireMember(agentId);
    await this.#store('putMember', () => this.storage.putMember(this.room, { id: agentId, online: false }));
    this.#log.info('agent disconnected', { room: this.room, agent: agentId });
    this.#emit('disconnect', [{ agent: agentId, removed: false }]);
  }

  /** Ends the agent's membership: nothing is routed to it from now on and its subscriptions end. */
  async removeAgent(agentId: string): Promise<void> {
    this.#assertOpen();
    assertId(agentId, 'agent id');
    const removed = await this.#store('removeMember', () => this.storage.removeMember(this.room, agentId));
    if (!removed) throw unknownAgent(agentId, this.room);
    for (const subscription of this.#subscriptions) if (subscription.agentId === agentId) subscription.stop();
    this.#log.info('agent removed', { room: this.room, agent: agentId });
    this.#emit('disconnect', [{ agent: agentId, removed: true }]);
  }

  /** The distinct groups of a `connectAgent` list, refused when they are more than `maxGroupsPerMember` (repeats count once). */
  #distinctGroups(agentId: string, requested: string[]): string[] {
    const groups = sortedUnique(requested);
    if (groups.length > this.#maxGroups) {
      throw new MessageBusError(
        'INVALID_ARGUMENT',
        `agent "${agentId}" asked for ${groups.length} groups; maxGroupsPerMember is ${this.#maxGroups}`,
        { details: { limit: this.#maxGroups } },
      );
    }
    return groups;
  }

  /** Adds a member to a group (for `SubgroupRoutingPolicy`). A member already in `maxGroupsPerMember` groups gets `INVALID_ARGUMENT`. */
  async joinGroup(agentId: string, group: string): Promise<string[]> {
    return this.#changeGroups(agentId, group, (groups) => {
      if (groups.includes(group)) return [...groups];
      if (groups.length >= this.#maxGroups) {
        throw new MessageBusError(
          'INVALID_ARGUMENT',
          `agent "${agentId}" is already in ${groups.length} groups; maxGroupsPerMember is ${this.#maxGroups}: leave one first`,
          { details: { limit: this.#maxGroups } },
        );
      }
      return [...groups, group];
    });
  }

  /** Removes a member from a group. */
  async leaveGroup(agentId: string, group: string): Promise<string[]> {
    return this.#changeGroups(agentId, group, (groups) => groups.filter((g) => g !== group));
  }

  /**
   * Routes and stores a message; resolves with the stored message (its `id`,
   * `recipients` and `routing`). A rejected send stores nothing and consumes no id.
   */
  async sendMessage(message: Message): Promise<StoredMessage> {
    const started = performance.now();
    try {
      const stored = await this.#send(message);
      this.#metrics.sendDurationBound.observe((performance.now() - started) / 1000);
      return stored;
    } catch (error) {
      const failure = asStorageFailure(this.storage.name, 'sendMessage', error);
      this.#metrics.rejected(failure.code);
      const level = failure.code === 'STORAGE_FAILURE' ? 'error' : 'debug';
      this.#log[level](`message rejected: ${failure.code}: ${failure.message}`, { room: this.room, agent: safeSender(message) });
      throw failure;
    }
  }

  /**
   * Messages routed to `agentId` after `lastMessageId`, ascending. Without
   * `lastMessageId` it starts after the agent's acknowledged cursor (0 if none).
   * `limit` defaults to 100 and may be at most 1000.
   */
  async fetchMessages(agentId: string, lastMessageId?: number, options: { limit?: number } = {}): Promise<StoredMessage[]> {
    this.#assertOpen();
    assertId(agentId, 'agent id');
    if (lastMessageId !== undefined) assertCursor(lastMessageId, 'lastMessageId');
    const limit = resolveLimit(options.limit, DEFAULT_FETCH_LIMIT, MAX_FETCH_LIMIT);
    const started = performance.now();
    await this.#requireMember(agentId);
    const messages = await this.#store('fetch', () => this.storage.fetch(this.room, agentId, lastMessageId ?? null, limit));
    this.#metrics.fetchDuration.observe(this.#metrics.roomLabels, (performance.now() - started) / 1000);
    return messages;
  }

  /** Every retained message of the room after `after` (for dashboards and replay), ascending. */
  async history(after = 0, options: { limit?: number } = {}): Promise<StoredMessage[]> {
    this.#assertOpen();
    assertCursor(after, 'after');
    const limit = resolveLimit(options.limit, DEFAULT_FETCH_LIMIT, MAX_FETCH_LIMIT);
    return this.#store('history', () => this.storage.history(this.room, after, limit));
  }

  /** Commits the agent's cursor up to `upToId` (it never moves back). Returns the stored cursor. */
  async ackMessages(agentId: string, upToId: number): Promise<number> {
    this.#assertOpen();
    assertId(agentId, 'agent id');
    assertCursor(upToId, 'upToId');
    const room = await this.#store('getRoom', () => this.storage.getRoom(this.room));
    if (!room.members.some((m) => m.id === agentId)) throw unknownAgent(agentId, this.room);
    if (upToId > room.lastId) {
      throw new MessageBusError('INVALID_ARGUMENT', `cannot ack up to ${upToId}: the room's last id is ${room.lastId}`);
    }
    return this.#store('ack', () => this.storage.ack(this.room, agentId, upToId));
  }

  /**
   * Delivers every message routed to `agentId` after `options.after` (default:
   * its acknowledged cursor), then each new one as it is stored: in id order,
   * with no gap and no duplicate at the seam. A throwing handler does not stop
   * delivery; the error is emitted as an `error` event. Returns `stop`.
   */
  subscribe(agentId: string, handler: MessageHandler, options: SubscribeOptions = {}): () => void {
    this.#assertOpen();
    assertId(agentId, 'agent id');
    if (options.after !== undefined) assertCursor(options.after, 'after');
    if (typeof handler !== 'function') throw new MessageBusError('INVALID_ARGUMENT', 'subscribe needs a handler function');
    const subscription = new Subscription({
      agentId,
      handler,
      after: options.after,
      fetchPage: (after) => this.fetchMessages(agentId, after ?? undefined, { limit: MAX_FETCH_LIMIT }),
      onError: (error, fatal) => {
        options.onError?.(error);
        this.#emit('error', [error]);
        if (fatal) this.#log.warn(`subscription ended: ${error.message}`, { room: this.room, agent: agentId });
      },
      onStop: () => this.#subscriptions.delete(subscription),
    });
    this.#subscriptions.add(subscription);
    subscription.start();
    return () => subscription.stop();
  }

  /** Members with online state, groups, cursor, lag and send counters. */
  async agents(): Promise<AgentInfo[]> {
    this.#assertOpen();
    const room = await this.#store('getRoom', () => this.storage.getRoom(this.room));
    return room.members.map((m) => ({ ...m, lag: Math.max(0, m.lastRoutedId - m.cursor) }));
  }

  /** This bus's metrics (and those of every bus sharing its registry) in the Prometheus text format. */
  async metrics(): Promise<string> {
    return this.#metrics.registry.render();
  }

  /** Stops subscriptions and, unless `closeStorage: false`, closes the backend. Later calls reject with `CLOSED`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const subscription of [...this.#subscriptions]) subscription.stop();
    this.#stopWatching?.();
    this.#metrics.dispose();
    if (this.#closeStorage) await this.storage.close();
  }

  // --- internal helpers ---

  async #send(message: Message): Promise<StoredMessage> {
    this.#assertOpen();
    const { sender, recipients, idempotencyKey, content, contentJson } = this.#checkMessage(message);
    // Backend failures are turned into STORAGE_FAILURE by sendMessage's catch.
    // Two attempts at most: the second reads the members from the store, after the send began, so it sees every
    // change acknowledged before then and needs no check (under churn a check could fail again and again).
    for (let fresh = false; ; fresh = true) {
      const pending = this.storage.getMembers(this.room, fresh ? FRESH : undefined);
      const members = pending instanceof Promise ? await pending : pending;
      let routed: Routed;
      try {
        const view = roomViewOf(this.room, members);
        const member = view.member(sender);
        if (!member) throw unknownAgent(sender, this.room);
        if (!member.online) {
          throw new MessageBusError(
            'AGENT_OFFLINE',
            `agent "${sender}" is offline in room "${this.room}": call connectAgent("${sender}") before sending`,
          );
        }
        const result = routeMessage(this.policy, { sender, content, recipients }, view);
        routed = result instanceof Promise ? await result : result;
      } catch (error) {
        // A refusal over membership is final only on a current list.
        if (!fresh && isMembershipRefusal(error) && (await this.#outdated(members))) continue;
        throw error;
      }
      const draft: MessageDraft = {
        timestamp: this.#now(),
        sender,
        content,
        recipients: routed.recipients,
        audience: routed.audience,
        routing: { policy: this.policy.name, requested: recipients ?? null },
        contentJson,
      };
      // A list that may have come from a cache: the backend checks, atomically with the append, that it is current.
      if (!fresh) draft.members = members;
      if (idempotencyKey !== undefined) draft.idempotencyKey = idempotencyKey;
      let appended: AppendResult;
      try {
        const result = this.storage.append(this.room, draft);
        appended = result instanceof Promise ? await result : result;
      } catch (error) {
        if (!fresh && isMembersChanged(error)) continue;
        throw error;
      }
      const { message: stored, duplicate } = appended;
      if (duplicate) {
        this.#metrics.duplicates.inc(this.#metrics.roomLabels);
        return stored;
      }
      this.#metrics.sentBound.inc();
      this.#metrics.deliveriesBound.inc(stored.recipients.length);
      this.#onStored(stored);
      return stored;
    }
  }

  /** `true` when the store's member list is no longer `members` (a backend returns the same array while unchanged). */
  async #outdated(members: readonly MemberRecord[]): Promise<boolean> {
    try {
      return (await this.storage.getMembers(this.room, FRESH)) !== members;
    } catch {
      return false; // the refusal stands; the store's failure is for the next operation to report
    }
  }

  #checkMessage(message: Message): {
    sender: string;
    recipients: readonly string[] | undefined;
    idempotencyKey: string | undefined;
    content: JsonValue;
    contentJson: string;
  } {
    if (!(message instanceof Message) && (typeof message !== 'object' || message === null)) {
      throw new MessageBusError('INVALID_MESSAGE', 'sendMessage needs a Message: new Message(sender, content, recipients?)');
    }
    // Each field is read once, here: what is checked is what is routed and stored.
    const {
      sender,
      recipients: requested,
      content,
      options,
    } = readInput(
      () => ({ sender: message.sender, recipients: message.recipients, content: message.content, options: message.options }),
      'INVALID_MESSAGE',
      'the message',
    );
    if (!isValidId(sender)) {
      throw new MessageBusError('INVALID_MESSAGE', 'sender must be an agent id: 1-128 characters of letters, digits and "._:-"');
    }
    const recipients =
      requested === undefined ? undefined : Object.freeze(snapshotIds(requested, 'recipients', MAX_RECIPIENTS, 'INVALID_MESSAGE'));
    const idempotencyKey = readInput(() => options?.idempotencyKey, 'INVALID_MESSAGE', 'the message options');
    if (
      idempotencyKey !== undefined &&
      (typeof idempotencyKey !== 'string' ||
        idempotencyKey.length < 1 ||
        idempotencyKey.length > MAX_IDEMPOTENCY_KEY ||
        !isWellFormed(idempotencyKey))
    ) {
      throw new MessageBusError(
        'INVALID_MESSAGE',
        `idempotencyKey must be a string of 1-${MAX_IDEMPOTENCY_KEY} characters without lone surrogates`,
      );
    }
    if (content === undefined) throw new MessageBusError('INVALID_MESSAGE', 'content is missing: pass any JSON value');
    const { copy, json: contentJson } = copyContent(content, this.#maxContentDepth);
    // A string of n UTF-16 units is at most 3n UTF-8 bytes: skip the exact count when it cannot matter.
    if (contentJson.length * 3 > this.#maxContentBytes) {
      const bytes = utf8Length(contentJson);
      if (bytes > this.#maxContentBytes) {
        throw new MessageBusError('CONTENT_TOO_LARGE', `content is ${bytes} bytes of JSON; the limit is ${this.#maxContentBytes}`, {
          details: { limit: this.#maxContentBytes, size: bytes },
        });
      }
    }
    return { sender, recipients, idempotencyKey, content: copy, contentJson };
  }

  /**
   * Emits `message` and tells the subscriptions, once per id: own sends and a watching backend's echo of them meet
   * here. An id `#emitted` gave up on (it came thousands of ids late) is no loss: a subscription that heard of a
   * later id fetched from the store, where the earlier one already was.
   */
  #onStored(message: StoredMessage): void {
    if (this.#closed || !this.#emitted.add(message.id)) return;
    if (this.#events.listenerCount('message') > 0) this.#emit('message', [message]);
    for (const subscription of this.#subscriptions) subscription.notify(message);
  }

  async #view(fresh = false): Promise<RoomView> {
    const members = await this.#store('getMembers', () => this.storage.getMembers(this.room, fresh ? FRESH : undefined));
    return roomViewOf(this.room, members);
  }

  async #member(agentId: string): Promise<MemberState> {
    const room = await this.#store('getRoom', () => this.storage.getRoom(this.room));
    const member = room.members.find((m) => m.id === agentId);
    if (!member) throw unknownAgent(agentId, this.room);
    return member;
  }

  /** The room view, holding `agentId`; an agent missing from a cached list is looked up again in the store. */
  async #requireMember(agentId: string, fresh = false): Promise<RoomView> {
    let view = await this.#view(fresh);
    if (!view.has(agentId) && !fresh) view = await this.#view(true);
    if (!view.has(agentId)) throw unknownAgent(agentId, this.room);
    return view;
  }

  async #changeGroups(agentId: string, group: string, change: (groups: readonly string[]) => string[]): Promise<string[]> {
    this.#assertOpen();
    assertId(agentId, 'agent id');
    assertId(group, 'group name');
    // Read-modify-write of the groups: on the store's list, so a change another process made is not undone.
    const view = await this.#requireMember(agentId, true);
    const member = view.member(agentId) as NonNullable<ReturnType<RoomView['member']>>;
    const groups = sortedUnique(change(member.groups));
    await this.#store('putMember', () => this.storage.putMember(this.room, { id: agentId, online: member.online, groups }));
    return groups;
  }

  async #collect(): Promise<void> {
    if (this.#closed) return;
    const room = await this.storage.getRoom(this.room);
    this.#metrics.observeRoom(room, this.#subscriptions.size);
  }

  /** Runs a backend call, turning unexpected failures into `STORAGE_FAILURE`. */
  async #store<T>(operation: string, call: () => Promise<T> | T): Promise<T> {
    try {
      return await call();
    } catch (error) {
      const failure = asStorageFailure(this.storage.name, operation, error);
      if (failure.code === 'STORAGE_FAILURE') this.#log.error(failure.message, { room: this.room, operation });
      throw failure;
    }
  }

  #emit<E extends keyof MessageBusEvents>(event: E, args: MessageBusEvents[E]): void {
    this.#events.emit(event, args, (error) => {
      this.#log.error(`a "${String(event)}" listener threw: ${error instanceof Error ? error.message : String(error)}`, {
        room: this.room,
      });
      if (event !== 'error') this.#emit('error', [error instanceof Error ? error : new Error(String(error))]);
    });
  }

  #assertOpen(): void {
    if (this.#closed) throw new MessageBusError('CLOSED', `the bus for room "${this.room}" is closed; create a new MessageBus`);
  }
}

function sortedUnique(ids: readonly string[]): string[] {
  return [...new Set(ids)].sort();
}

/** Reads caller input through `read`; a getter or Proxy trap that throws there is a typed `code` error, not a crash. */
function readInput<T>(read: () => T, code: 'INVALID_MESSAGE' | 'INVALID_ARGUMENT', what: string): T {
  try {
    return read();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new MessageBusError(code, `${what} could not be read: ${reason}`, { cause: error });
  }
}

function positiveInteger(value: number | undefined, fallback: number, name: string, max = Number.MAX_SAFE_INTEGER): number {
  const resolved = value ?? fallback;
  if (!Number.isInteger(resolved) || resolved < 1 || resolved > max) {
    throw new MessageBusError('INVALID_ARGUMENT', `${name} must be an integer from 1 to ${max}; got ${resolved}`);
  }
  return resolved;
}

function unknownAgent(agentId: string, room: string): MessageBusError {
  return new MessageBusError(
    'UNKNOWN_AGENT',
    `agent "${agentId}" is not a member of room "${room}": call connectAgent("${agentId}") first`,
  );
}

/** The sender for a log line, when it is a valid id; reading it must not throw again (a hostile getter). */
function safeSender(message: Message): string | undefined {
  try {
    const sender: unknown = message?.sender;
    return isValidId(sender) ? sender : undefined;
  } catch {
    return undefined;
  }
}

function isMembershipRefusal(error: unknown): boolean {
  return MessageBusError.is(error) && MEMBERSHIP_REFUSALS.has(error.code);
}
