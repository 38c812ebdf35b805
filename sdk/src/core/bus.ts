import { replyRefused, seenBy } from '../backends/kit/conversation.js';
import { BusMetrics } from './bus-metrics.js';
import { type CheckedMessage, checkMessage, type MessageLimits, readInput } from './check-message.js';
import { DEFAULT_MAX_METADATA_BYTES } from './conversation.js';
import { keepsDraftObjects, LazyJsonDraft } from './draft.js';
import { Emitter } from './emitter.js';
import { asStorageFailure, isMembersChanged, MessageBusError } from './errors.js';
import { frozenRouting } from './frozen-lists.js';
import { LiveSubscriptions } from './live-subscriptions.js';
import { BusLogger, type Logger, type LogLevel } from './logger.js';
import type { Message } from './message.js';
import { MetricsRegistry } from './metrics.js';
import { awaitReply, type RequestOptions } from './request.js';
import { roomViewOf } from './room-view.js';
import { type Routed, routeMessage } from './route.js';
import { SeenIds } from './seen-ids.js';
import type { MessageStream } from './stream/message-stream.js';
import type { StreamInfo, StreamSnapshot } from './stream/stream-board.js';
import { DEFAULT_STREAM_IDLE_MS, StreamHub } from './stream/stream-hub.js';
import { newStreamId, streamIdempotencyKey } from './stream/stream-id.js';
import { type MessageHandler, type SubscribeOptions, Subscription } from './subscription.js';
import type {
  AppendResult,
  Audience,
  MemberRecord,
  MemberState,
  MessageDraft,
  RoomView,
  RoutingDecision,
  RoutingPolicy,
  StorageBackend,
  StoredMessage,
  StreamEvent,
} from './types.js';
import {
  assertCursor,
  assertId,
  copyContentWithin,
  DEFAULT_MAX_CONTENT_DEPTH,
  isValidId,
  MAX_CONTENT_DEPTH_LIMIT,
  resolveLimit,
  snapshotIds,
} from './validate.js';

/** Default and maximum `limit` of `fetchMessages`. */
export const DEFAULT_FETCH_LIMIT = 100;
export const MAX_FETCH_LIMIT = 1000;
/** Default `maxContentBytes`: 64 KiB of UTF-8 JSON. */
export const DEFAULT_MAX_CONTENT_BYTES = 64 * 1024;
/** Default `maxGroupsPerMember`. */
export const DEFAULT_MAX_GROUPS_PER_MEMBER = 100;
// Entries read from a connectAgent groups list before repeats are dropped: bounds the work of a hostile list.
const MAX_GROUP_ENTRIES = 1000;
const FRESH = Object.freeze({ fresh: true });
/**
 * The high-resolution clock of the send and fetch histograms, looked up once: in Node.js the global `performance`
 * is a lazy getter, and reading it twice per send cost as much as one more clock read.
 */
const clock = globalThis.performance;
/** Refusals that a newer member list could turn into a delivery. */
const MEMBERSHIP_REFUSALS = new Set(['UNKNOWN_AGENT', 'AGENT_OFFLINE', 'UNKNOWN_RECIPIENT', 'UNKNOWN_GROUP']);

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
  /** Largest `metadata`, as UTF-8 JSON bytes. Default 4 KiB. */
  maxMetadataBytes?: number;
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
  /**
   * A stream nothing is written to for this long is aborted with `IDLE`, by
   * its sender's bus and by every bus receiving it (so a sender that died is
   * noticed). Default 30,000 ms; give every bus of a room the same value.
   */
  streamIdleMs?: number;
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
  /** An event of any stream of the room this bus knows of (its own, and other buses' over a stream channel), for dashboards. */
  stream: [StreamEvent, StreamInfo];
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
  readonly #limits: MessageLimits;
  readonly #maxGroups: number;
  readonly #now: () => number;
  /** Routing decisions of one-id requests, by the shared list (`soleList`). */
  readonly #soleRoutings = new WeakMap<readonly string[], RoutingDecision>();
  readonly #closeStorage: boolean;
  /** The routing decision of every message sent without recipients (broadcasts): one frozen object for all. */
  readonly #unrequested: RoutingDecision;
  /** The backend keeps the draft's objects: its drafts make their JSON text on first read. */
  readonly #lazyJson: boolean;
  readonly #events = new Emitter<MessageBusEvents>();
  readonly #subscriptions = new LiveSubscriptions();
  /** Ids already emitted: a watching backend echoes this bus's own sends too. */
  readonly #emitted = new SeenIds();
  #stopWatching: (() => void) | undefined;
  readonly #streams: StreamHub;
  readonly #streamIdleMs: number;
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
    const maxMetadataBytes = positiveInteger(options.maxMetadataBytes, DEFAULT_MAX_METADATA_BYTES, 'maxMetadataBytes');
    const maxContentDepth = positiveInteger(options.maxContentDepth, DEFAULT_MAX_CONTENT_DEPTH, 'maxContentDepth', MAX_CONTENT_DEPTH_LIMIT);
    const maxGroups = positiveInteger(options.maxGroupsPerMember, DEFAULT_MAX_GROUPS_PER_MEMBER, 'maxGroupsPerMember');
    const streamIdleMs = positiveInteger(options.streamIdleMs, DEFAULT_STREAM_IDLE_MS, 'streamIdleMs', MAX_TIMER_MS);
    this.room = room;
    this.storage = storage;
    this.policy = policy;
    this.#log = new BusLogger(options.logger, options.logLevel);
    this.#metrics = new BusMetrics(options.metrics ?? new MetricsRegistry(), room, policy.name, () => this.#collect());
    this.#limits = { maxContentBytes, maxContentDepth, maxMetadataBytes };
    this.#maxGroups = maxGroups;
    this.#now = options.now ?? Date.now;
    this.#closeStorage = options.closeStorage ?? true;
    this.#lazyJson = keepsDraftObjects(storage);
    this.#unrequested = frozenRouting(policy.name, null);
    this.#streamIdleMs = streamIdleMs;
    this.#stopWatching = storage.watch?.(room, (message) => this.#onStored(message));
    this.#streams = new StreamHub(storage, room, streamIdleMs, (error) => this.#listenerError('stream', error));
    this.#streams.watch(null, (event, stream) => {
      if (this.#events.listenerCount('stream') > 0)
        this.#emit('stream', [event, { sender: stream.sender, recipients: stream.recipients, seq: stream.seq }]);
    });
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
    for (const subscription of this.#subscriptions.list()) if (subscription.agentId === agentId) subscription.stop();
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
  sendMessage(message: Message): Promise<StoredMessage> {
    const started = clock.now();
    // Not an async function: with a synchronous backend the whole send runs in this call and the caller's await
    // is the only microtask (an async function and its inner await cost two more, and their frames).
    let stored: StoredMessage | Promise<StoredMessage>;
    try {
      stored = this.#send(message);
    } catch (error) {
      return Promise.reject(this.#rejected('sendMessage', safeSender(message), error));
    }
    if (stored instanceof Promise) {
      return stored.then(
        (result) => this.#sent(result, started),
        (error: unknown) => {
          throw this.#rejected('sendMessage', safeSender(message), error);
        },
      );
    }
    return Promise.resolve(this.#sent(stored, started));
  }

  /**
   * Opens a stream: a message whose text its recipients see grow, stored once
   * when it ends. It routes at once and fails as `sendMessage` would
   * (`UNKNOWN_RECIPIENT`, `AGENT_OFFLINE`, a refused `inReplyTo`...), with
   * nothing started or stored. The message's content is the initial text: a
   * string (often `''`), else `INVALID_MESSAGE`. Recipients get the events
   * through `subscribe(..., { onStream })`; `end()` stores one message,
   * `abort()` nothing. Buses on the same storage see the stream when the
   * backend has a stream channel (memory, IndexedDB, Redis, Durable Object).
   *
   * @example
   * ```ts
   * const stream = await bus.stream(new Message('writer', '', ['critic'], { inReplyTo: 12, metadata: { kind: 'answer' } }));
   * stream.write('Hel');
   * stream.write('lo');
   * const stored = await stream.end(); // content 'Hello', streamId: stream.id
   * ```
   */
  async stream(message: Message): Promise<MessageStream> {
    let sender: string | undefined;
    try {
      this.#assertOpen();
      const checked = checkMessage(message, this.#limits);
      if (typeof checked.content !== 'string') {
        throw new MessageBusError(
          'INVALID_MESSAGE',
          "a stream's content is its initial text: a string, often ''; end(finalContent) may store any JSON",
        );
      }
      sender = checked.sender;
      const { members, routed } = await this.#routeStream(checked);
      const record = members.find((m) => m.id === checked.sender) as MemberRecord;
      if (checked.inReplyTo !== undefined) await this.#assertSeen(record, checked.inReplyTo);
      this.#assertOpen();
      const id = newStreamId();
      // The key makes end() safe to retry; a key the sender gave keeps its meaning (a repeat returns the first message).
      const final: CheckedMessage = { ...checked, idempotencyKey: checked.idempotencyKey ?? streamIdempotencyKey(id) };
      const recipients = Object.freeze([...routed.recipients]);
      return this.#streams.open({
        id,
        sender: checked.sender,
        recipients,
        inReplyTo: checked.inReplyTo,
        metadata: checked.metadata?.copy,
        initialText: checked.content as string,
        maxContentBytes: this.#limits.maxContentBytes,
        idleMs: this.#streamIdleMs,
        prepare: (content) => this.#checkContent(content),
        store: (content) => this.#endStream(final, recipients, id, content as CheckedContent),
      });
    } catch (error) {
      throw this.#rejected('stream', sender, error);
    }
  }

  /**
   * The streams in flight that `agentId` sends or receives (all of the room's
   * this bus knows of, without `agentId`), each as a `start` event holding
   * its text so far, plus `seq`: how many deltas that text holds.
   */
  openStreams(agentId?: string): StreamSnapshot[] {
    this.#assertOpen();
    if (agentId !== undefined) assertId(agentId, 'agent id');
    return this.#streams.snapshots(agentId ?? null);
  }

  /**
   * Sends `message` as `sendMessage` does, under any policy, and resolves with
   * the first later message routed to the sender whose `inReplyTo` is the
   * request's id, whichever bus sharing the room stored it. Rejects with
   * `TIMEOUT` after `timeoutMs` (default 30 s) or `ABORTED` when `signal`
   * aborts, both with `details.requestId`; the request stays stored. An already
   * aborted signal sends nothing. The sender's presence is left as it was.
   *
   * @example
   * ```ts
   * const answer = await bus.request(new Message('planner', 'which sources?', ['researcher']), { timeoutMs: 5000 });
   * console.log(answer.sender, answer.content); // researcher, replying with { inReplyTo: <the request's id> }
   * ```
   */
  request(message: Message, options: RequestOptions = {}): Promise<StoredMessage> {
    return awaitReply(
      {
        send: () => this.sendMessage(message),
        watch: (request, onMessage, onEnd) => this.#watchReplies(request.sender, request.id, onMessage, onEnd),
      },
      options,
    );
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
    const started = clock.now();
    await this.#requireMember(agentId);
    const messages = await this.#store('fetch', () => this.storage.fetch(this.room, agentId, lastMessageId ?? null, limit));
    this.#metrics.fetchDuration.observe(this.#metrics.roomLabels, (clock.now() - started) / 1000);
    return messages;
  }

  /**
   * The thread whose root is `thread`, as `agentId` sees it: the messages it
   * sent or that were routed to its current membership, after `after`
   * (default 0), ascending, at most `limit` (default 100, at most 1000). `[]`
   * for a thread it cannot see or an id that is not a root. Answered from an
   * index; returns what retention kept.
   *
   * @example
   * ```ts
   * const thread = await bus.fetchThread('critic', answer.thread); // the question, the answer, the remarks
   * ```
   */
  async fetchThread(agentId: string, thread: number, options: { after?: number; limit?: number } = {}): Promise<StoredMessage[]> {
    this.#assertOpen();
    assertId(agentId, 'agent id');
    assertMessageId(thread, 'thread');
    const after = options.after ?? 0;
    assertCursor(after, 'after');
    const limit = resolveLimit(options.limit, DEFAULT_FETCH_LIMIT, MAX_FETCH_LIMIT);
    await this.#requireMember(agentId);
    return this.#store('fetchThread', () => this.storage.fetchThread(this.room, agentId, thread, after, limit));
  }

  /**
   * The newest `limit` messages routed to `agentId` (default 100, at most
   * 1000) with ids below `before` (default: no bound), ascending: a chat view
   * opens with it and pages up by passing the first id it holds as `before`.
   * Routed means what `fetchMessages` counts; it stops at the oldest retained
   * message and never throws `CURSOR_EXPIRED`.
   *
   * @example
   * ```ts
   * const newest = await bus.fetchLatest('alice', { limit: 50 });
   * const older = await bus.fetchLatest('alice', { limit: 50, before: newest[0]?.id });
   * ```
   */
  async fetchLatest(agentId: string, options: { limit?: number; before?: number } = {}): Promise<StoredMessage[]> {
    this.#assertOpen();
    assertId(agentId, 'agent id');
    if (options.before !== undefined) assertCursor(options.before, 'before');
    const limit = resolveLimit(options.limit, DEFAULT_FETCH_LIMIT, MAX_FETCH_LIMIT);
    const started = clock.now();
    await this.#requireMember(agentId);
    const messages = await this.#store('fetchLatest', () => this.storage.fetchLatest(this.room, agentId, options.before ?? null, limit));
    this.#metrics.fetchDuration.observe(this.#metrics.roomLabels, (clock.now() - started) / 1000);
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
    const onStream = options.onStream;
    if (onStream !== undefined && typeof onStream !== 'function') {
      throw new MessageBusError('INVALID_ARGUMENT', 'onStream must be a function: (event) => { ... }');
    }
    const onError = (error: MessageBusError | Error) => options.onError?.(error);
    // The stream watch ends with the subscription, also when it ends by itself (the agent removed, the bus closed).
    let stopStreams: (() => void) | undefined;
    const stop = this.#subscribe(agentId, handler, options.after, onError, () => stopStreams?.());
    if (onStream) {
      stopStreams = this.#streams.watch(agentId, (event) => {
        try {
          onStream(event);
        } catch (error) {
          const failure = error instanceof Error ? error : new Error(String(error));
          onError(failure);
          this.#emit('error', [failure]);
        }
      });
    }
    return stop;
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
    // Own streams are aborted first, so subscribers still hear of it.
    this.#streams.close();
    for (const subscription of this.#subscriptions.list()) subscription.stop();
    this.#stopWatching?.();
    this.#metrics.dispose();
    if (this.#closeStorage) await this.storage.close();
  }

  // --- internal helpers ---

  #subscribe(
    agentId: string,
    handler: MessageHandler,
    after: number | undefined,
    onError: (error: MessageBusError | Error, fatal: boolean) => void,
    onStop?: () => void,
  ): () => void {
    const subscription = new Subscription({
      agentId,
      handler,
      after,
      fetchPage: (from) => this.fetchMessages(agentId, from ?? undefined, { limit: MAX_FETCH_LIMIT }),
      onError: (error, fatal) => {
        onError(error, fatal);
        this.#emit('error', [error]);
        if (fatal) this.#log.warn(`subscription ended: ${error.message}`, { room: this.room, agent: agentId });
      },
      onStop: () => {
        this.#subscriptions.delete(subscription);
        onStop?.();
      },
    });
    this.#subscriptions.add(subscription);
    subscription.start();
    return () => subscription.stop();
  }

  /** `request`'s wait: a subscription that reports why it ended unless `request` itself stopped it. */
  #watchReplies(
    agentId: string,
    after: number,
    onMessage: (message: StoredMessage) => void,
    onEnd: (error: MessageBusError) => void,
  ): () => void {
    let stopping = false;
    let failure: MessageBusError | undefined;
    const stop = this.#subscribe(
      agentId,
      onMessage,
      after,
      (error, fatal) => {
        if (fatal) failure = MessageBusError.is(error) ? error : asStorageFailure(this.storage.name, 'request', error);
      },
      () => {
        if (stopping) return;
        // Ended by close(), removeAgent() or a fatal fetch error: no reply can arrive through it any more.
        onEnd(failure ?? (this.#closed ? closedError(this.room) : unknownAgent(agentId, this.room)));
      },
    );
    return () => {
      stopping = true;
      stop();
    };
  }

  /** Checks, routes and appends; synchronous while the backend and the policy are (the built-in memory backend is). */
  #send(message: Message): StoredMessage | Promise<StoredMessage> {
    this.#assertOpen();
    return this.#attempt(checkMessage(message, this.#limits), false);
  }

  /**
   * One routing and append. Backend failures are turned into STORAGE_FAILURE by sendMessage. Two attempts at most:
   * the second (`fresh`) reads the members from the store, after the send began, so it sees every change
   * acknowledged before then and needs no check (under churn a check could fail again and again).
   */
  #attempt(checked: CheckedMessage, fresh: boolean): StoredMessage | Promise<StoredMessage> {
    const members = this.storage.getMembers(this.room, fresh ? FRESH : undefined);
    if (members instanceof Promise) return members.then((list) => this.#routeAndAppend(checked, list, fresh));
    return this.#routeAndAppend(checked, members, fresh);
  }

  #routeAndAppend(checked: CheckedMessage, members: readonly MemberRecord[], fresh: boolean): StoredMessage | Promise<StoredMessage> {
    let routed: Routed | Promise<Routed>;
    try {
      routed = this.#route(checked, members);
    } catch (error) {
      return this.#afterRefusal(checked, members, fresh, error);
    }
    if (routed instanceof Promise) {
      return routed.then(
        (result) => this.#appendRouted(checked, members, fresh, result),
        (error: unknown) => this.#afterRefusal(checked, members, fresh, error),
      );
    }
    return this.#appendRouted(checked, members, fresh, routed);
  }

  /** A refusal over membership is final only on a current list: on an outdated one the message is routed again. */
  async #afterRefusal(checked: CheckedMessage, members: readonly MemberRecord[], fresh: boolean, error: unknown): Promise<StoredMessage> {
    if (!fresh && isMembershipRefusal(error) && (await this.#outdated(members))) return this.#attempt(checked, true);
    throw error;
  }

  #appendRouted(
    checked: CheckedMessage,
    members: readonly MemberRecord[],
    fresh: boolean,
    routed: Routed,
  ): StoredMessage | Promise<StoredMessage> {
    const draft = this.#draft(checked, routed.recipients, routed.audience);
    // A list that may have come from a cache: the backend checks, atomically with the append, that it is current.
    if (!fresh) draft.members = members;
    let stored: StoredMessage | Promise<StoredMessage>;
    try {
      stored = this.#append(draft);
    } catch (error) {
      return this.#afterAppendFailure(checked, fresh, error);
    }
    return stored instanceof Promise ? stored.then(undefined, (error: unknown) => this.#afterAppendFailure(checked, fresh, error)) : stored;
  }

  /** The backend found the routed-with member list outdated: route once more on a fresh one. Anything else stands. */
  #afterAppendFailure(checked: CheckedMessage, fresh: boolean, error: unknown): StoredMessage | Promise<StoredMessage> {
    if (!fresh && isMembersChanged(error)) return this.#attempt(checked, true);
    throw error;
  }

  #sent(stored: StoredMessage, started: number): StoredMessage {
    this.#metrics.sendDurationBound.observe((clock.now() - started) / 1000);
    return stored;
  }

  /** `stream`'s routing: like `#send`'s, a membership refusal on a list another process outdated is routed again once. */
  async #routeStream(checked: CheckedMessage): Promise<{ members: readonly MemberRecord[]; routed: Routed }> {
    const members = await this.storage.getMembers(this.room);
    try {
      return { members, routed: await this.#route(checked, members) };
    } catch (error) {
      if (!isMembershipRefusal(error) || !(await this.#outdated(members))) throw error;
      const current = await this.storage.getMembers(this.room, FRESH);
      return { members: current, routed: await this.#route(checked, current) };
    }
  }

  /** Checks the sender may send now and runs the policy: what `sendMessage` and `stream` share. */
  #route(checked: CheckedMessage, members: readonly MemberRecord[]): Routed | Promise<Routed> {
    const view = roomViewOf(this.room, members);
    const member = view.member(checked.sender);
    if (!member) throw unknownAgent(checked.sender, this.room);
    if (!member.online) {
      throw new MessageBusError(
        'AGENT_OFFLINE',
        `agent "${checked.sender}" is offline in room "${this.room}": call connectAgent("${checked.sender}") before sending`,
      );
    }
    const { sender, content, recipients, metadata } = checked;
    return routeMessage(this.policy, { sender, content, recipients, metadata: metadata?.copy }, view);
  }

  #draft(checked: CheckedMessage, recipients: readonly string[], audience: Audience, streamId?: string): MessageDraft {
    const { sender, content, contentJson, recipients: requested, idempotencyKey, inReplyTo, metadata } = checked;
    const timestamp = this.#now();
    const routing = this.#routingOf(requested);
    // The size check made the text only when the content was large; else it is made here, or on first read for a
    // backend that keeps the objects (see draft.ts).
    const draft: MessageDraft =
      contentJson === undefined && this.#lazyJson
        ? new LazyJsonDraft(timestamp, sender, content, recipients, audience, routing)
        : { timestamp, sender, content, recipients, audience, routing, contentJson: contentJson ?? JSON.stringify(content) };
    if (idempotencyKey !== undefined) draft.idempotencyKey = idempotencyKey;
    if (inReplyTo !== undefined) draft.inReplyTo = inReplyTo;
    if (metadata !== undefined) {
      draft.metadata = metadata.copy;
      draft.metadataJson = metadata.json;
    }
    if (streamId !== undefined) draft.streamId = streamId;
    return draft;
  }

  /** The routing decision a draft records: frozen, and for a one-id request (see `soleList`) made once per list. */
  #routingOf(requested: readonly string[] | undefined): RoutingDecision {
    if (requested === undefined) return this.#unrequested;
    if (requested.length !== 1) return frozenRouting(this.policy.name, requested);
    let routing = this.#soleRoutings.get(requested);
    if (routing === undefined) this.#soleRoutings.set(requested, (routing = frozenRouting(this.policy.name, requested)));
    return routing;
  }

  /** Appends, counts, and tells subscribers; synchronous when the backend is (no microtask per send). */
  #append(draft: MessageDraft): StoredMessage | Promise<StoredMessage> {
    const appended = this.storage.append(this.room, draft);
    return appended instanceof Promise ? appended.then((result) => this.#appended(result)) : this.#appended(appended);
  }

  #appended({ message: stored, duplicate }: AppendResult): StoredMessage {
    if (duplicate) {
      this.#metrics.duplicates.inc(this.#metrics.roomLabels);
      return stored;
    }
    this.#metrics.sentBound.inc();
    this.#metrics.deliveriesBound.inc(stored.recipients.length);
    this.#onStored(stored);
    return stored;
  }

  /** `true` when the store's member list is no longer `members` (a backend returns the same array while unchanged). */
  async #outdated(members: readonly MemberRecord[]): Promise<boolean> {
    try {
      return (await this.storage.getMembers(this.room, FRESH)) !== members;
    } catch {
      return false; // the refusal stands; the store's failure is for the next operation to report
    }
  }

  /** `stream`'s early check of `inReplyTo` (the append checks again, atomically): the same refusal as the backend's. */
  async #assertSeen(sender: MemberRecord, inReplyTo: number): Promise<void> {
    const [parent] = await this.storage.history(this.room, inReplyTo - 1, 1);
    if (parent?.id !== inReplyTo || !seenBy(sender, parent)) throw replyRefused(this.storage.name, this.room);
  }

  /** Stores a stream's message: its recipients as resolved at the start, its idempotency key, its id as `streamId`. */
  async #endStream(
    checked: CheckedMessage,
    recipients: readonly string[],
    streamId: string,
    final: CheckedContent,
  ): Promise<StoredMessage> {
    const started = clock.now();
    try {
      this.#assertOpen();
      const stored = await this.#append(this.#draft({ ...checked, ...final }, recipients, 'list', streamId));
      this.#metrics.sendDurationBound.observe((clock.now() - started) / 1000);
      return stored;
    } catch (error) {
      throw this.#rejected('stream end', checked.sender, error);
    }
  }

  /** A refused send, stream or end: counted, logged (an error only for STORAGE_FAILURE) and typed. */
  #rejected(operation: string, sender: string | undefined, error: unknown): MessageBusError {
    const failure = asStorageFailure(this.storage.name, operation, error);
    this.#metrics.rejected(failure.code);
    const level = failure.code === 'STORAGE_FAILURE' ? 'error' : 'debug';
    this.#log[level](`${operation} rejected: ${failure.code}: ${failure.message}`, { room: this.room, agent: sender });
    return failure;
  }

  /** Final content of a stream, checked like a sent message's. */
  #checkContent(content: unknown): CheckedContent {
    const { copy, json } = copyContentWithin(content, this.#limits.maxContentDepth, this.#limits.maxContentBytes, 'content');
    return { content: copy, contentJson: json };
  }

  /**
   * Emits `message` and tells the subscriptions, once per id: own sends and a watching backend's echo of them meet
   * here. An id `#emitted` gave up on (it came thousands of ids late) is no loss: a subscription that heard of a
   * later id fetched from the store, where the earlier one already was.
   */
  #onStored(message: StoredMessage): void {
    if (this.#closed || !this.#emitted.add(message.id)) return;
    if (this.#events.listenerCount('message') > 0) this.#emit('message', [message]);
    this.#subscriptions.deliver(message);
    this.#streams.onStored(message);
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
    this.#events.emit(event, args, (error) => this.#listenerError(String(event), error));
  }

  #listenerError(event: string, error: unknown): void {
    this.#log.error(`a "${event}" listener threw: ${error instanceof Error ? error.message : String(error)}`, { room: this.room });
    if (event !== 'error') this.#emit('error', [error instanceof Error ? error : new Error(String(error))]);
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError(this.room);
  }
}

/** A stream's final content, checked as a sent message's is. */
type CheckedContent = Pick<CheckedMessage, 'content' | 'contentJson'>;

/** Timers hold 32-bit signed milliseconds. */
const MAX_TIMER_MS = 2_147_483_647;

function sortedUnique(ids: readonly string[]): string[] {
  return [...new Set(ids)].sort();
}

function assertMessageId(value: unknown, what: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new MessageBusError('INVALID_ARGUMENT', `${what} must be a message id: a positive integer`);
  }
}

function closedError(room: string): MessageBusError {
  return new MessageBusError('CLOSED', `the bus for room "${room}" is closed; create a new MessageBus`);
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
