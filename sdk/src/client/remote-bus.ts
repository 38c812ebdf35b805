import { type AgentInfo, type ConnectOptions, DEFAULT_MAX_CONTENT_BYTES } from '../core/bus.js';
import { type ErrorCode, MessageBusError } from '../core/errors.js';
import type { Message } from '../core/message.js';
import { awaitReply, type RequestOptions } from '../core/request.js';
import { StreamBoard } from '../core/stream/stream-board.js';
import { DEFAULT_STREAM_IDLE_MS } from '../core/stream/stream-hub.js';
import type { MessageHandler, SubscribeOptions } from '../core/subscription.js';
import type { StoredMessage, StreamEvent, StreamSignal } from '../core/types.js';
import { assertCursor, assertId } from '../core/validate.js';
import { FrameReader, type ReadFrame } from './frames.js';
import { RemoteMessageStream } from './remote-stream.js';
import { StreamSocket } from './stream-socket.js';
import { bearerProtocol, type FetchLike, type WebSocketConstructorLike, type WebSocketLike, wsUrl } from './transport.js';

export type { FetchLike, WebSocketConstructorLike, WebSocketLike } from './transport.js';

const NAME = 'remote';

/** Options of `RemoteMessageBus`. */
export interface RemoteMessageBusOptions {
  /** Base URL of the worker, e.g. `https://bus.example.workers.dev` or `http://127.0.0.1:8787`. */
  url: string;
  /** The room id. */
  room: string;
  /** A bearer token (`npm run token`), or a function returning a fresh one for each request. */
  token: string | (() => string | Promise<string>);
  /** WebSocket constructor; default `globalThis.WebSocket` (Node 20 needs one injected, e.g. from `ws` or `undici`). */
  WebSocket?: WebSocketConstructorLike;
  /** fetch; default `globalThis.fetch`. */
  fetch?: FetchLike;
  /** How often a send is retried after a network failure, 503 or 429 (with the same idempotency key). Default 3. */
  retries?: number;
  /** Reconnect backoff of `subscribe`: first delay and cap, in ms. Default 100 and 5000. */
  backoff?: { initialMs?: number; maxMs?: number };
  /**
   * A stream a subscription receives is aborted with `IDLE` when nothing of it arrives for this long, so a
   * sender (or a connection) that died is noticed here too. Default 30,000 ms, like the worker's STREAM_IDLE_MS.
   */
  streamIdleMs?: number;
}

/** Close codes after which reconnecting cannot help (4000 + the HTTP status of the refusal). */
const FATAL_CLOSE = new Set([4400, 4401, 4403, 4404, 4410, 4500]);

/**
 * The codes of those refusals. The worker sends the error frame just before its close frame, and some runtimes
 * deliver the `close` event only when the TCP connection ends (seconds later, see docs/worker.md): the error frame
 * alone ends the subscription, so a removed agent stops at once instead of waiting or reconnecting.
 */
const FATAL_ERRORS = new Set<ErrorCode>([
  'INVALID_ARGUMENT',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'UNKNOWN_AGENT',
  'CURSOR_EXPIRED',
  'MISCONFIGURED',
]);

/**
 * The `MessageBus` API over the worker's HTTP + WebSocket API: the same
 * methods and error codes (a `MessageBusError` built from the server's JSON
 * error), in browsers, Node.js 20+ and other workers.
 *
 * Sends always carry an idempotency key (the message's own, or a generated
 * one), so the retries after a dropped connection never store a message twice.
 * `subscribe` keeps a WebSocket, reconnects with exponential backoff and
 * resumes after the last id it delivered: no gap and no duplicate.
 *
 * @example
 * ```ts
 * import { RemoteMessageBus } from 'modular-message-bus-library/client';
 * const bus = new RemoteMessageBus({ url: 'http://127.0.0.1:8787', room: 'lobby', token });
 * await bus.connectAgent('alice');
 * const stop = bus.subscribe('alice', (m) => console.log(m.sender, m.content));
 * await bus.sendMessage(new Message('alice', 'hello'));
 * ```
 */
export class RemoteMessageBus {
  readonly room: string;
  readonly #base: string;
  readonly #token: RemoteMessageBusOptions['token'];
  readonly #fetch: FetchLike;
  readonly #WebSocket: WebSocketConstructorLike | undefined;
  readonly #retries: number;
  readonly #backoff: { initialMs: number; maxMs: number };
  readonly #subscriptions = new Set<() => void>();
  /** `request`s waiting for a reply: told when this bus closes. */
  readonly #waiting = new Set<(error: MessageBusError) => void>();
  readonly #streamIdleMs: number;
  /** Per sending agent: the socket its streams are written on, and its open streams. */
  readonly #writers = new Map<string, { socket: StreamSocket; streams: Map<string, RemoteMessageStream> }>();
  #closed = false;

  constructor(options: RemoteMessageBusOptions) {
    if (!options || typeof options.url !== 'string' || !/^https?:\/\//.test(options.url)) {
      throw new MessageBusError('INVALID_ARGUMENT', `[${NAME}] url must be the worker's http(s) URL, e.g. "http://127.0.0.1:8787"`);
    }
    assertId(options.room, 'room');
    if (typeof options.token !== 'string' && typeof options.token !== 'function') {
      throw new MessageBusError(
        'INVALID_ARGUMENT',
        `[${NAME}] token must be a JWT string or a function returning one (see \`npm run token\`)`,
      );
    }
    const fetchImpl = options.fetch ?? (globalThis.fetch as FetchLike | undefined);
    if (typeof fetchImpl !== 'function') {
      throw new MessageBusError('MISCONFIGURED', `[${NAME}] no fetch in this runtime: pass { fetch } to RemoteMessageBus`);
    }
    this.room = options.room;
    this.#base = options.url.replace(/\/+$/, '');
    this.#token = options.token;
    // A bare global fetch must be called unbound from the global object in some runtimes.
    this.#fetch = options.fetch ?? ((input, init) => (globalThis.fetch as FetchLike)(input, init));
    this.#WebSocket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructorLike }).WebSocket;
    this.#retries = options.retries ?? 3;
    this.#backoff = { initialMs: options.backoff?.initialMs ?? 100, maxMs: options.backoff?.maxMs ?? 5000 };
    const idle = options.streamIdleMs ?? DEFAULT_STREAM_IDLE_MS;
    if (!Number.isInteger(idle) || idle < 1 || idle > 2_147_483_647) {
      throw new MessageBusError('INVALID_ARGUMENT', `[${NAME}] streamIdleMs must be an integer from 1 to 2147483647; got ${idle}`);
    }
    this.#streamIdleMs = idle;
  }

  /** Makes `agentId` a member (if it is not yet) and marks it online. */
  async connectAgent(agentId: string, options: ConnectOptions = {}): Promise<AgentInfo> {
    assertId(agentId, 'agent id');
    const body = snapshot(() => (options.groups === undefined ? {} : { groups: options.groups }), 'INVALID_ARGUMENT');
    return this.#call('POST', `/agents/${agentId}/connect`, body);
  }

  /** Marks a member offline. */
  async disconnectAgent(agentId: string): Promise<void> {
    assertId(agentId, 'agent id');
    await this.#call('POST', `/agents/${agentId}/disconnect`, {});
  }

  /** Ends the agent's membership. */
  async removeAgent(agentId: string): Promise<void> {
    assertId(agentId, 'agent id');
    await this.#call('DELETE', `/agents/${agentId}`);
  }

  /**
   * Adds a member to a group; resolves with its groups. An agent token may join only the groups its `groups`
   * claim names (`FORBIDDEN` otherwise); an admin token any.
   */
  async joinGroup(agentId: string, group: string): Promise<string[]> {
    assertId(agentId, 'agent id');
    assertId(group, 'group name');
    const { groups } = await this.#call<{ groups: string[] }>('PUT', `/agents/${agentId}/groups/${group}`);
    return groups;
  }

  /** Removes a member from a group; resolves with its groups. The same rule as `joinGroup`. */
  async leaveGroup(agentId: string, group: string): Promise<string[]> {
    assertId(agentId, 'agent id');
    assertId(group, 'group name');
    const { groups } = await this.#call<{ groups: string[] }>('DELETE', `/agents/${agentId}/groups/${group}`);
    return groups;
  }

  /**
   * Sends a message; resolves with the stored message. Retried on network
   * failures, 503 and 429 with one idempotency key, so it is stored once.
   */
  async sendMessage(message: Message): Promise<StoredMessage> {
    this.#assertOpen();
    if (typeof message !== 'object' || message === null) {
      throw new MessageBusError('INVALID_MESSAGE', 'sendMessage needs a Message: new Message(sender, content, recipients?)');
    }
    // Every attempt sends the message as it was at this call: a retry carries the same idempotency key.
    const body = snapshot(() => {
      const fields: Record<string, unknown> = {
        sender: message.sender,
        content: message.content,
        idempotencyKey: message.options?.idempotencyKey ?? newKey(),
      };
      if (message.recipients !== undefined) fields.recipients = message.recipients;
      if (message.options?.inReplyTo !== undefined) fields.inReplyTo = message.options.inReplyTo;
      if (message.options?.metadata !== undefined) fields.metadata = message.options.metadata;
      return fields;
    }, 'INVALID_MESSAGE');
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#call<StoredMessage>('POST', '/messages', body);
      } catch (error) {
        const retriable = MessageBusError.is(error) && RETRIABLE.has(error.code);
        if (!retriable || attempt >= this.#retries) throw error;
        const retryAfter = (error as MessageBusError).details.retryAfter;
        const wait = typeof retryAfter === 'number' ? retryAfter * 1000 : this.#delay(attempt);
        await sleep(wait);
      }
    }
  }

  /**
   * Sends `message` (as `sendMessage`) and resolves with the first later
   * message routed to the sender whose `inReplyTo` is its id, from any client
   * of the room. It waits on a read-only `watch` socket, so the sender's
   * presence is exactly as it was once it settles. Rejects with `TIMEOUT`
   * (`timeoutMs`, default 30 s) or `ABORTED` (`signal`), both with
   * `details.requestId`; an already aborted signal sends nothing.
   */
  request(message: Message, options: RequestOptions = {}): Promise<StoredMessage> {
    return awaitReply(
      {
        send: () => this.sendMessage(message),
        watch: (request, onMessage, onEnd) => {
          this.#waiting.add(onEnd);
          const stop = this.#stream(request.sender, onMessage, request.id, { watch: true, onError: () => {}, onEnd });
          return () => {
            this.#waiting.delete(onEnd);
            stop();
          };
        },
      },
      options,
    );
  }

  /**
   * Opens a stream, as `MessageBus.stream` does, on a `stream=1` WebSocket of
   * the sender (shared by its streams; it leaves the agent's presence alone):
   * routed at once by the room, refused with its error (`UNKNOWN_RECIPIENT`,
   * `AGENT_OFFLINE`, `RATE_LIMITED` past MAX_OPEN_STREAMS_PER_AGENT, ...).
   * Writes are coalesced into at most one frame per 25 ms. The socket
   * reconnects after a drop and sends again what was not answered.
   *
   * @example
   * ```ts
   * const stream = await remote.stream(new Message('writer', '', ['critic'], { inReplyTo: question.id }));
   * stream.write('Hel');
   * stream.write('lo');
   * const stored = await stream.end(); // one message, content 'Hello', streamId: stream.id
   * ```
   */
  async stream(message: Message): Promise<RemoteMessageStream> {
    this.#assertOpen();
    if (typeof message !== 'object' || message === null) {
      throw new MessageBusError('INVALID_MESSAGE', 'stream needs a Message: new Message(sender, initialText, recipients?)');
    }
    const frame = snapshot(() => {
      const fields: Record<string, unknown> = { type: 'stream-start', sender: message.sender, content: message.content };
      if (message.recipients !== undefined) fields.recipients = message.recipients;
      if (message.options?.idempotencyKey !== undefined) fields.idempotencyKey = message.options.idempotencyKey;
      if (message.options?.inReplyTo !== undefined) fields.inReplyTo = message.options.inReplyTo;
      if (message.options?.metadata !== undefined) fields.metadata = message.options.metadata;
      return fields;
    }, 'INVALID_MESSAGE') as Record<string, unknown> & { sender: string; content: unknown };
    const { sender, ...start } = frame;
    assertId(sender, 'sender');
    if (typeof start.content !== 'string') {
      throw new MessageBusError(
        'INVALID_MESSAGE',
        "a stream's content is its initial text: a string, often ''; end(finalContent) may store any JSON",
      );
    }
    const writer = this.#writer(sender);
    const answer = await writer.socket.request(start, false);
    const opened = answer.stream as { id: string; recipients: string[]; maxContentBytes?: number };
    // The room's MAX_CONTENT_BYTES, so an oversized write fails at once, as in a MessageBus.
    const limit = Number.isSafeInteger(opened.maxContentBytes) ? (opened.maxContentBytes as number) : DEFAULT_MAX_CONTENT_BYTES;
    const stream = new RemoteMessageStream(opened.id, opened.recipients, start.content, limit, writer.socket, () => {
      writer.streams.delete(opened.id);
      writer.socket.release();
    });
    writer.streams.set(stream.id, stream);
    return stream;
  }

  /** Messages routed to `agentId` after `lastMessageId` (default: after its acknowledged cursor). */
  async fetchMessages(agentId: string, lastMessageId?: number, options: { limit?: number } = {}): Promise<StoredMessage[]> {
    assertId(agentId, 'agent id');
    const query = new URLSearchParams({ agent: agentId });
    if (lastMessageId !== undefined) query.set('after', String(lastMessageId));
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    const { messages } = await this.#call<{ messages: StoredMessage[] }>('GET', `/messages?${query}`);
    return messages;
  }

  /** The thread whose root is `thread` as `agentId` sees it, ascending (`MessageBus.fetchThread`). */
  async fetchThread(agentId: string, thread: number, options: { after?: number; limit?: number } = {}): Promise<StoredMessage[]> {
    assertId(agentId, 'agent id');
    if (typeof thread !== 'number' || !Number.isSafeInteger(thread) || thread < 1) {
      throw new MessageBusError('INVALID_ARGUMENT', 'thread must be a message id: a positive integer');
    }
    const query = new URLSearchParams({ agent: agentId });
    if (options.after !== undefined) query.set('after', String(options.after));
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    const { messages } = await this.#call<{ messages: StoredMessage[] }>('GET', `/threads/${thread}?${query}`);
    return messages;
  }

  /** The newest messages routed to `agentId` with ids below `before`, ascending (`MessageBus.fetchLatest`). */
  async fetchLatest(agentId: string, options: { limit?: number; before?: number } = {}): Promise<StoredMessage[]> {
    assertId(agentId, 'agent id');
    const query = new URLSearchParams({ agent: agentId });
    if (options.before !== undefined) query.set('before', String(options.before));
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    const { messages } = await this.#call<{ messages: StoredMessage[] }>('GET', `/messages/latest?${query}`);
    return messages;
  }

  /** Moves the agent's cursor to `upToId` (never back). Returns the stored cursor. */
  async ackMessages(agentId: string, upToId: number): Promise<number> {
    assertId(agentId, 'agent id');
    assertCursor(upToId, 'upToId');
    const { cursor } = await this.#call<{ cursor: number }>('POST', `/agents/${agentId}/ack`, { upTo: upToId });
    return cursor;
  }

  /** Every message of the room after `after` (admin token). */
  async history(after = 0, options: { limit?: number } = {}): Promise<StoredMessage[]> {
    const query = new URLSearchParams({ after: String(after) });
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    const { messages } = await this.#call<{ messages: StoredMessage[] }>('GET', `/history?${query}`);
    return messages;
  }

  /** Members with online state, cursors and lag (admin token). */
  async agents(): Promise<AgentInfo[]> {
    const { members } = await this.#call<{ members: AgentInfo[] }>('GET', '');
    return members;
  }

  /**
   * Delivers every message routed to `agentId` after `options.after` (default:
   * its acknowledged cursor), then each new one, over a WebSocket that
   * reconnects after a drop and resumes after the last delivered id. The token
   * travels as the `bearer.<jwt>` subprotocol, never in the URL. Ends (with
   * `onError`, a `MessageBusError` with the server's code) on a refusal that
   * retrying cannot fix: bad token, not a member, removed from the room,
   * expired cursor; it does not reconnect after one. Returns `stop`.
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
    const onError = (error: Error) => options.onError?.(error);
    return this.#stream(agentId, handler, options.after, { watch: false, onError, onEnd: onError, onStream });
  }

  /** Stops every subscription; further sends reject with `CLOSED`. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const stop of [...this.#subscriptions]) stop();
    // Own streams are aborted, so their recipients hear of it at once, then their sockets close.
    const writers = [...this.#writers.values()];
    await Promise.all(writers.flatMap((w) => [...w.streams.values()].map((stream) => stream.abort('CLOSED').catch(() => {}))));
    for (const writer of writers) writer.socket.close();
    const closed = new MessageBusError('CLOSED', `[${NAME}] this RemoteMessageBus was closed while a request waited for its reply`);
    for (const onEnd of [...this.#waiting]) onEnd(closed);
  }

  // --- internal helpers ---

  /**
   * The WebSocket behind `subscribe` and `request`: replays after `after`,
   * then delivers live, reconnecting with backoff and resuming after the last
   * delivered id. `watch` opens a read-only socket that leaves the agent's
   * presence alone. `onEnd` reports a refusal that retrying cannot fix.
   */
  #stream(
    agentId: string,
    handler: MessageHandler,
    after: number | undefined,
    options: {
      watch: boolean;
      onError: (error: Error) => void;
      onEnd: (error: MessageBusError) => void;
      onStream?: ((event: StreamEvent) => void) | undefined;
    },
  ): () => void {
    const WebSocketImpl = this.#WebSocket;
    if (!WebSocketImpl) {
      throw new MessageBusError(
        'MISCONFIGURED',
        `[${NAME}] no WebSocket in this runtime: pass { WebSocket } (e.g. from the "ws" package on Node 20) to RemoteMessageBus`,
      );
    }
    let delivered: number | null = after ?? null;
    let socket: WebSocketLike | undefined;
    let stopped = false;
    let failures = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let lastError: MessageBusError | undefined;
    let queue: Promise<void> = Promise.resolve();
    const report = (error: Error) => {
      try {
        options.onError(error);
      } catch {
        // An onError that throws must not break delivery.
      }
    };
    // The streams this subscription receives: the board orders their events, starts a stream afresh after a
    // reconnect (the room sends all text so far), closes one whose stored message arrives, and runs the idle timer.
    const onStream = options.onStream;
    const board = onStream
      ? new StreamBoard(
          this.#streamIdleMs,
          () => {},
          (error) => report(error instanceof Error ? error : new Error(String(error))),
        )
      : undefined;
    const stopBoard = board?.watch(agentId, (event) => {
      try {
        onStream?.(event);
      } catch (error) {
        report(error instanceof Error ? error : new Error(String(error)));
      }
    });
    const deliver = (message: StoredMessage) => {
      board?.onStored(message);
      queue = queue.then(async () => {
        // Ids only grow: anything at or below the last delivered id is a replayed duplicate.
        if (stopped || (delivered !== null && message.id <= delivered)) return;
        delivered = message.id;
        try {
          await handler(message);
        } catch (error) {
          report(error instanceof Error ? error : new Error(String(error)));
        }
      });
    };
    const open = async () => {
      if (stopped) return;
      let token: string;
      try {
        token = await this.#tokenValue();
      } catch (error) {
        report(error instanceof Error ? error : new Error(String(error)));
        return retry();
      }
      // Resume from what the handler has been given, including messages still queued for it.
      await queue;
      if (stopped) return;
      const query = new URLSearchParams({ agent: agentId });
      if (delivered !== null) query.set('after', String(delivered));
      if (options.watch) query.set('watch', '1');
      let ws: WebSocketLike;
      try {
        ws = new WebSocketImpl(`${wsUrl(this.#base)}/v1/rooms/${this.room}/ws?${query}`, [bearerProtocol(token)]);
      } catch (error) {
        // A token that is not a valid subprotocol token (spaces, commas) cannot be a JWT either.
        end(new MessageBusError('UNAUTHORIZED', `[${NAME}] the token cannot be sent on a WebSocket: ${String(error)}`, { cause: error }));
        return;
      }
      socket = ws;
      const reader = new FrameReader(this.room);
      ws.onmessage = (event) => {
        let frame: (ReadFrame & { event?: StreamSignal; error?: { code: ErrorCode; message: string } }) | undefined;
        try {
          frame = reader.read(typeof event.data === 'string' ? event.data : String(event.data));
        } catch (error) {
          // A frame this connection cannot complete: drop it and resume from the last delivered id (no gap).
          report(error as Error);
          try {
            ws.close(1000, 'unreadable frame');
          } catch {
            // Already closing.
          }
          return;
        }
        if (!frame) return;
        if (frame.type === 'message' && frame.message) {
          failures = 0;
          deliver(frame.message);
        } else if (frame.type === 'stream' && frame.event) {
          board?.apply(frame.event, false);
        } else if (frame.type === 'error' && frame.error) {
          lastError = errorFrom(frame.error, 0);
          if (FATAL_ERRORS.has(frame.error.code) && socket === ws) {
            socket = undefined;
            end(lastError);
            try {
              ws.close(1000, 'refused');
            } catch {
              // Already closing.
            }
          }
        }
      };
      ws.onopen = () => {
        failures = 0;
        // workerd ends the TCP connection of a hibernated socket that never sent a frame only ~10 s after
        // closing it (docs/worker.md); one ping makes a server-side close (removal, refusal) end it at once.
        try {
          ws.send(JSON.stringify({ type: 'ping', ref: 'open' }));
        } catch {
          // Closing already; onclose follows.
        }
      };
      ws.onclose = (event) => {
        if (socket !== ws) return;
        socket = undefined;
        if (stopped) return;
        if (FATAL_CLOSE.has(event.code)) {
          end(lastError ?? new MessageBusError('CLOSED', `[${NAME}] the server closed the subscription (${event.code} ${event.reason})`));
          return;
        }
        retry();
      };
      ws.onerror = () => {
        // A close event follows; reconnecting happens there.
      };
    };
    /** Final: no reconnect; `onError` gets the typed reason once. */
    const end = (error: MessageBusError) => {
      if (stopped) return;
      stopped = true;
      stopBoard?.();
      board?.clear();
      clearTimeout(timer);
      this.#subscriptions.delete(stop);
      try {
        options.onEnd(error);
      } catch {
        // An onError that throws must not break the client.
      }
    };
    const retry = () => {
      if (stopped) return;
      const delay = this.#delay(failures++);
      timer = setTimeout(() => void open(), delay);
    };
    const stop = () => {
      if (stopped && !socket) return;
      stopped = true;
      stopBoard?.();
      board?.clear();
      clearTimeout(timer);
      this.#subscriptions.delete(stop);
      const ws = socket;
      socket = undefined;
      try {
        ws?.close(1000, 'unsubscribed');
      } catch {
        // Already closing.
      }
    };
    this.#subscriptions.add(stop);
    void open();
    return stop;
  }

  /** The stream socket of `agent`, opened on first use and closed by itself when the agent's streams are over. */
  #writer(agent: string): { socket: StreamSocket; streams: Map<string, RemoteMessageStream> } {
    const existing = this.#writers.get(agent);
    if (existing) return existing;
    const WebSocketImpl = this.#WebSocket;
    if (!WebSocketImpl) {
      throw new MessageBusError(
        'MISCONFIGURED',
        `[${NAME}] no WebSocket in this runtime: pass { WebSocket } (e.g. from the "ws" package on Node 20) to RemoteMessageBus`,
      );
    }
    const streams = new Map<string, RemoteMessageStream>();
    const socket = new StreamSocket({
      connect: async () => ({
        url: `${wsUrl(this.#base)}/v1/rooms/${this.room}/ws?${new URLSearchParams({ agent, stream: '1' })}`,
        protocols: [bearerProtocol(await this.#tokenValue())],
      }),
      WebSocket: WebSocketImpl,
      delay: (attempt) => this.#delay(attempt),
      onEvent: (event) => {
        if (event.type === 'end' || event.type === 'abort') streams.get(event.streamId)?.settled(event);
      },
      busy: () => streams.size > 0,
      onClosed: () => {
        if (this.#writers.get(agent)?.socket === socket) this.#writers.delete(agent);
        for (const stream of [...streams.values()]) stream.settled({ type: 'abort', reason: 'CLOSED' });
      },
    });
    const writer = { socket, streams };
    this.#writers.set(agent, writer);
    return writer;
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    this.#assertOpen();
    const url = `${this.#base}/v1/rooms/${this.room}${path}`;
    const headers: Record<string, string> = { authorization: `Bearer ${await this.#tokenValue()}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Awaited<ReturnType<FetchLike>>;
    try {
      response = await this.#fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new MessageBusError('STORAGE_FAILURE', `[${NAME}] could not reach ${this.#base}: ${reason}`, { cause });
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text === '' ? {} : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (response.ok && json !== undefined) return json as T;
    const error = (json as { error?: { code: ErrorCode; message: string } } | undefined)?.error;
    if (error && typeof error.code === 'string') throw errorFrom(error, Number(response.headers.get('retry-after') ?? 0));
    throw new MessageBusError('STORAGE_FAILURE', `[${NAME}] ${method} ${url} answered ${response.status} without a JSON error`);
  }

  async #tokenValue(): Promise<string> {
    return typeof this.#token === 'function' ? await this.#token() : this.#token;
  }

  #delay(attempt: number): number {
    const base = Math.min(this.#backoff.maxMs, this.#backoff.initialMs * 2 ** attempt);
    // Jitter spreads the reconnects of many clients after a server restart.
    return base / 2 + Math.random() * (base / 2);
  }

  #assertOpen(): void {
    if (this.#closed) throw new MessageBusError('CLOSED', `[${NAME}] this RemoteMessageBus is closed; create a new one`);
  }
}

const RETRIABLE = new Set<ErrorCode>(['STORAGE_FAILURE', 'CLOSED', 'RATE_LIMITED']);

/** A `MessageBusError` from the server's `{ code, message, ...details }`. */
function errorFrom(body: { code: ErrorCode; message: string } & Record<string, unknown>, retryAfter: number): MessageBusError {
  const { code, message, ...details } = body;
  if (retryAfter > 0 && details.retryAfter === undefined) details.retryAfter = retryAfter;
  return new MessageBusError(code, message, { details });
}

function newKey(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (crypto?.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Reads a request body once, at the call, and copies it through JSON (what the request carries anyway), so a
 * caller who changes its objects later changes no request and no retry. A getter that throws, a cycle or a
 * BigInt is a typed `code` error before anything is sent.
 */
function snapshot(read: () => Record<string, unknown>, code: 'INVALID_MESSAGE' | 'INVALID_ARGUMENT'): unknown {
  try {
    return JSON.parse(JSON.stringify(read()));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new MessageBusError(code, `the request could not be serialised as JSON: ${reason}`, { cause: error });
  }
}
