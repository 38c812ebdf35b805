import { MessageBusError, type StorageBackend, type StoredMessage } from 'modular-message-bus-library';
import { closeCodeOf, type ErrorBody, toErrorBody } from './errors.js';
import { type EncodedMessage, MessageFrames } from './message-frames.js';

/** Per-socket state kept in the socket's attachment, so it survives hibernation. */
export interface SocketAttachment {
  /**
   * `agent`: an agent's subscription, which keeps it online while open;
   * `watch`: what is routed to an agent, with no effect on its presence (a
   * remote `request` waiting for its reply); `stream`: the agent's stream
   * frames and the events of the streams it sends or receives, with no
   * messages and no effect on its presence (a remote `stream()` writes on
   * one); `events`: the admin feed of every message, presence change and
   * stream event.
   */
  kind: 'agent' | 'watch' | 'stream' | 'events';
  room: string;
  /** The agent id (`null` for the events feed). */
  agent: string | null;
  /**
   * Highest id sent on this socket (or passed over because it was not routed to the agent), as of the last write:
   * the attachment is written when the socket is accepted and when it goes live, not for every message.
   */
  delivered: number;
  /**
   * The socket caught up and went live: from then on it got every message routed to it as the message was
   * appended, so after hibernation it resumes from the room's last id rather than from `delivered`.
   */
  live?: boolean;
}

interface SocketState {
  attachment: SocketAttachment;
  /** Caught up: new messages are sent straight from the append. */
  live: boolean;
  /** A message was appended while catching up: fetch once more before going live. */
  missed: boolean;
  pumping: boolean;
  /** Id of the last audience frame sent on this socket (0: none; the client keeps only the latest). */
  audience: number;
  /** Woken from hibernation while live: the pump first moves `delivered` up to the room's last id. */
  resumeAtHead: boolean;
}

const PAGE = 500;
const OPEN = 1;

/**
 * The room's sockets. A socket first catches up by fetching from its
 * `delivered` id (replay), then goes live and gets each message straight from
 * the storage's synchronous `watch` callback. An append during catch-up sets
 * `missed`, and the pump fetches again before going live: no gap at the seam,
 * and `delivered` filters duplicates. After hibernation, sockets come back from
 * `ctx.getWebSockets()` with their attachment: one that was still catching up
 * resumes from its `delivered`; one that was live had every message up to the
 * room's last id, and resumes from there. So a live socket's attachment is not
 * rewritten for each message it gets.
 */
export class SocketHub {
  readonly #ctx: DurableObjectState;
  readonly #storage: () => StorageBackend;
  readonly #states = new Map<WebSocket, SocketState>();
  /** The sockets of #states by agent (`null`: the events feed), so a stream frame asks the runtime for none. */
  readonly #byAgent = new Map<string | null, Set<WebSocket>>();
  readonly #dirty = new Set<WebSocket>();
  readonly #frames = new MessageFrames();
  /** Recipient lists as sets, per list: backends share one list between the broadcasts of a membership. */
  readonly #recipientSets = new WeakMap<readonly string[], ReadonlySet<string>>();
  /** The room's last id when this instance started (read once, for the sockets that were live before hibernation). */
  #head: Promise<number> | undefined;
  /** The first id appended in this instance: no socket woken from hibernation has it. */
  #firstAppended: number | undefined;

  constructor(ctx: DurableObjectState, storage: () => StorageBackend) {
    this.#ctx = ctx;
    this.#storage = storage;
    for (const ws of ctx.getWebSockets()) this.#state(ws);
  }

  /** Accepts a socket with the hibernation API and starts its replay. */
  accept(ws: WebSocket, attachment: SocketAttachment): void {
    const tags = attachment.agent === null ? ['events'] : [`agent:${attachment.agent}`];
    this.#ctx.acceptWebSocket(ws, tags);
    ws.serializeAttachment(attachment);
    const state: SocketState = {
      attachment,
      live: attachment.kind === 'stream',
      missed: false,
      pumping: false,
      audience: 0,
      resumeAtHead: false,
    };
    this.#track(ws, state);
    if (!state.live) void this.#pump(ws, state);
  }

  /** Open sockets of the room (closing ones excluded), optionally of one agent. */
  open(agent?: string): WebSocket[] {
    const sockets = agent === undefined ? this.#ctx.getWebSockets() : this.#ctx.getWebSockets(`agent:${agent}`);
    return sockets.filter((ws) => ws.readyState === OPEN && this.#states.has(ws));
  }

  /** Open sockets that keep `agent` online: its `agent` sockets, not the `watch` ones. */
  presence(agent: string): WebSocket[] {
    return this.open(agent).filter((ws) => this.#state(ws)?.attachment.kind === 'agent');
  }

  /** The attachment of a socket the runtime handed back (after hibernation too). */
  attachmentOf(ws: WebSocket): SocketAttachment | undefined {
    return this.#state(ws)?.attachment;
  }

  /** Forgets a socket that closed or errored; returns its attachment. */
  forget(ws: WebSocket): SocketAttachment | undefined {
    const state = this.#state(ws);
    this.#untrack(ws);
    this.#dirty.delete(ws);
    return state?.attachment;
  }

  /** Sends an error frame and closes with 4000 + the error's status. */
  refuse(ws: WebSocket, error: ErrorBody, ref: unknown = null): void {
    this.send(ws, { type: 'error', ref, error });
    this.close(ws, closeCodeOf(error.code), error.message);
  }

  /** Closes a socket and stops sending to it at once. */
  close(ws: WebSocket, code: number, reason: string): void {
    this.#untrack(ws);
    this.#dirty.delete(ws);
    try {
      ws.close(code, reason.slice(0, 120));
    } catch {
      // Already closing or closed.
    }
  }

  /** Sends a frame unless the socket is closing or closed. */
  send(ws: WebSocket, frame: unknown): void {
    this.#sendText(ws, JSON.stringify(frame));
  }

  /** Sends frame text as it is (already serialised once for many sockets). */
  sendRaw(ws: WebSocket, json: string): void {
    this.#sendText(ws, json);
  }

  /**
   * Sends a stream frame to every socket of the stream's sender and recipients (agent, watch and stream
   * sockets; a delta not back to the sender's stream sockets) and to the events feed, catching up or not:
   * stream frames do not depend on the message replay.
   */
  sendStream(sender: string, recipients: readonly string[], json: string, delta = false): void {
    for (const agent of recipients) this.#sendStreamTo(agent, sender, json, delta);
    if (!recipients.includes(sender)) this.#sendStreamTo(sender, sender, json, delta);
    const feed = this.#byAgent.get(null);
    if (feed) for (const ws of feed) this.#sendText(ws, json);
  }

  /** Sends a frame to every events-feed socket (stringified once). */
  broadcastEvent(frame: unknown): void {
    let text: string | undefined;
    for (const ws of this.#ctx.getWebSockets('events')) {
      if (this.#state(ws)?.live) this.#sendText(ws, (text ??= JSON.stringify(frame)));
    }
  }

  /** Called synchronously by the storage for every append, in id order. */
  onStored(message: StoredMessage): void {
    // One frame text for every socket that gets the message: encoded at the first one.
    let encoded: EncodedMessage | undefined;
    this.#firstAppended ??= message.id;
    const recipients = this.#recipientSet(message.recipients);
    // Every accepted socket has a state: from accept, or from the constructor after hibernation.
    for (const [ws, state] of this.#states) {
      if (!state.live) {
        state.missed = true;
        if (!state.pumping) void this.#pump(ws, state);
        continue;
      }
      const { attachment } = state;
      if (attachment.kind === 'stream' || message.id <= attachment.delivered) continue;
      // Only ids actually sent move the cursor: a later replay skips what was not routed to the agent anyway.
      if (attachment.kind === 'events' || recipients.has(attachment.agent as string)) {
        this.#sendMessage(ws, state, (encoded ??= this.#frames.encode(message)));
        attachment.delivered = message.id;
      }
    }
  }

  // --- internal helpers ---

  #sendStreamTo(agent: string, sender: string, json: string, delta: boolean): void {
    const sockets = this.#byAgent.get(agent);
    if (!sockets) return;
    for (const ws of sockets) {
      // The sender's stream socket wrote the delta: it needs only the start, end and abort of its streams.
      if (!(delta && agent === sender && this.#states.get(ws)?.attachment.kind === 'stream')) this.#sendText(ws, json);
    }
  }

  #track(ws: WebSocket, state: SocketState): void {
    this.#states.set(ws, state);
    const agent = state.attachment.agent;
    let sockets = this.#byAgent.get(agent);
    if (!sockets) this.#byAgent.set(agent, (sockets = new Set()));
    sockets.add(ws);
  }

  #untrack(ws: WebSocket): void {
    const state = this.#states.get(ws);
    this.#states.delete(ws);
    if (!state) return;
    const sockets = this.#byAgent.get(state.attachment.agent);
    sockets?.delete(ws);
    if (sockets?.size === 0) this.#byAgent.delete(state.attachment.agent);
  }

  #state(ws: WebSocket): SocketState | undefined {
    let state = this.#states.get(ws);
    if (!state && ws.readyState === OPEN) {
      const attachment = ws.deserializeAttachment() as SocketAttachment | null;
      if (!attachment) return undefined;
      // Woken from hibernation: catch up from the attachment before going live (a stream socket has nothing to catch up).
      state = {
        attachment,
        live: attachment.kind === 'stream',
        missed: false,
        pumping: false,
        audience: 0,
        resumeAtHead: attachment.live === true,
      };
      this.#track(ws, state);
      if (!state.live) void this.#pump(ws, state);
    }
    return state;
  }

  async #pump(ws: WebSocket, state: SocketState): Promise<void> {
    if (state.pumping) {
      state.missed = true;
      return;
    }
    state.pumping = true;
    const { attachment } = state;
    try {
      if (state.resumeAtHead) {
        state.resumeAtHead = false;
        const head = await this.#roomHead(attachment.room);
        // Everything up to the head at wake-up was delivered live; nothing appended since (from #firstAppended) was.
        const woke = this.#firstAppended === undefined ? head : Math.min(head, this.#firstAppended - 1);
        attachment.delivered = Math.max(attachment.delivered, woke);
      }
      for (;;) {
        state.missed = false;
        const storage = this.#storage();
        const page =
          attachment.agent !== null
            ? await storage.fetch(attachment.room, attachment.agent as string, attachment.delivered, PAGE)
            : await storage.history(attachment.room, attachment.delivered, PAGE);
        if (!this.#states.has(ws)) return;
        for (const message of page) {
          if (message.id <= attachment.delivered) continue;
          this.#sendMessage(ws, state, this.#frames.encode(message));
          attachment.delivered = message.id;
        }
        if (page.length < PAGE && !state.missed) break;
      }
      // Synchronous with the last check of `missed`: no append can slip between them.
      state.live = true;
      attachment.live = true;
      this.#markDirty(ws);
    } catch (error) {
      const body = MessageBusError.is(error) ? error.toJSON().error : toErrorBody(error);
      this.refuse(ws, body);
    } finally {
      state.pumping = false;
    }
  }

  /** The room's last id, read once per instance (the first call is made before any append of this instance). */
  #roomHead(room: string): Promise<number> {
    this.#head ??= this.#storage()
      .getRoom(room)
      .then((snapshot) => snapshot.lastId);
    return this.#head;
  }

  #recipientSet(list: readonly string[]): ReadonlySet<string> {
    let set = this.#recipientSets.get(list);
    if (!set) {
      set = new Set(list);
      this.#recipientSets.set(list, set);
    }
    return set;
  }

  /** A message frame, after the audience frame it names when this socket has not had that one last. */
  #sendMessage(ws: WebSocket, state: SocketState, encoded: EncodedMessage): void {
    const { audience } = encoded;
    if (audience && state.audience !== audience.id) {
      this.#sendText(ws, audience.text);
      state.audience = audience.id;
    }
    this.#sendText(ws, encoded.text);
  }

  #sendText(ws: WebSocket, text: string): void {
    if (ws.readyState !== OPEN) return;
    try {
      ws.send(text);
    } catch {
      // The peer went away between the check and the send; webSocketClose cleans up.
    }
  }

  /** Attachments are written once per event, before the object may hibernate: on accept and on going live. */
  #markDirty(ws: WebSocket): void {
    if (this.#dirty.size === 0) queueMicrotask(() => this.#flush());
    this.#dirty.add(ws);
  }

  #flush(): void {
    for (const ws of this.#dirty) {
      const state = this.#states.get(ws);
      if (state && ws.readyState === OPEN) ws.serializeAttachment(state.attachment);
    }
    this.#dirty.clear();
  }
}
