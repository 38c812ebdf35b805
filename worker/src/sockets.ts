import { MessageBusError, type StorageBackend, type StoredMessage } from 'modular-message-bus-library';
import { closeCodeOf, type ErrorBody, toErrorBody } from './errors.js';

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
  /** Highest id sent on this socket (or passed over because it was not routed to the agent). */
  delivered: number;
}

interface SocketState {
  attachment: SocketAttachment;
  /** Caught up: new messages are sent straight from the append. */
  live: boolean;
  /** A message was appended while catching up: fetch once more before going live. */
  missed: boolean;
  pumping: boolean;
}

const PAGE = 500;
const OPEN = 1;

/**
 * The room's sockets. A socket first catches up by fetching from its
 * `delivered` id (replay), then goes live and gets each message straight from
 * the storage's synchronous `watch` callback. An append during catch-up sets
 * `missed`, and the pump fetches again before going live: no gap at the seam,
 * and `delivered` filters duplicates. After hibernation, sockets come back from
 * `ctx.getWebSockets()` with their attachment and catch up again from it.
 */
export class SocketHub {
  readonly #ctx: DurableObjectState;
  readonly #storage: () => StorageBackend;
  readonly #states = new Map<WebSocket, SocketState>();
  readonly #dirty = new Set<WebSocket>();

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
    const state: SocketState = { attachment, live: attachment.kind === 'stream', missed: false, pumping: false };
    this.#states.set(ws, state);
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
    this.#states.delete(ws);
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
    this.#states.delete(ws);
    this.#dirty.delete(ws);
    try {
      ws.close(code, reason.slice(0, 120));
    } catch {
      // Already closing or closed.
    }
  }

  /** Sends a frame unless the socket is closing or closed. */
  send(ws: WebSocket, frame: unknown): void {
    if (ws.readyState !== OPEN) return;
    try {
      ws.send(JSON.stringify(frame));
    } catch {
      // The peer went away between the check and the send; webSocketClose cleans up.
    }
  }

  /** Sends frame text as it is (already serialised once for many sockets). */
  sendRaw(ws: WebSocket, json: string): void {
    if (ws.readyState !== OPEN) return;
    try {
      ws.send(json);
    } catch {
      // The peer went away between the check and the send; webSocketClose cleans up.
    }
  }

  /**
   * Sends a stream frame to every socket of the stream's sender and recipients (agent, watch and stream
   * sockets; a delta not back to the sender's stream sockets) and to the events feed, catching up or not:
   * stream frames do not depend on the message replay.
   */
  sendStream(sender: string, recipients: readonly string[], json: string, delta = false): void {
    const to = (agent: string) => {
      for (const ws of this.#ctx.getWebSockets(`agent:${agent}`)) {
        const state = this.#state(ws);
        // The sender's stream socket wrote the delta: it needs only the start, end and abort of its streams.
        if (state && !(delta && agent === sender && state.attachment.kind === 'stream')) this.sendRaw(ws, json);
      }
    };
    for (const agent of recipients) to(agent);
    if (!recipients.includes(sender)) to(sender);
    for (const ws of this.#ctx.getWebSockets('events')) if (this.#state(ws)) this.sendRaw(ws, json);
  }

  /** Sends a frame to every events-feed socket. */
  broadcastEvent(frame: unknown): void {
    for (const ws of this.#ctx.getWebSockets('events')) {
      if (this.#state(ws)?.live) this.send(ws, frame);
    }
  }

  /** Called synchronously by the storage for every append, in id order. */
  onStored(message: StoredMessage): void {
    for (const ws of this.#ctx.getWebSockets()) {
      const state = this.#state(ws);
      if (!state) continue;
      if (!state.live) {
        state.missed = true;
        if (!state.pumping) void this.#pump(ws, state);
        continue;
      }
      const { attachment } = state;
      if (attachment.kind === 'stream' || message.id <= attachment.delivered) continue;
      // Only ids actually sent move the cursor: a later replay skips what was not routed to the agent anyway,
      // and the attachment is rewritten only for sockets that got something.
      if (attachment.kind === 'events' || message.recipients.includes(attachment.agent as string)) {
        this.send(ws, { type: 'message', message });
        attachment.delivered = message.id;
        this.#markDirty(ws);
      }
    }
  }

  // --- internal helpers ---

  #state(ws: WebSocket): SocketState | undefined {
    let state = this.#states.get(ws);
    if (!state && ws.readyState === OPEN) {
      const attachment = ws.deserializeAttachment() as SocketAttachment | null;
      if (!attachment) return undefined;
      // Woken from hibernation: catch up from the attachment before going live (a stream socket has nothing to catch up).
      state = { attachment, live: attachment.kind === 'stream', missed: false, pumping: false };
      this.#states.set(ws, state);
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
          this.send(ws, { type: 'message', message });
          attachment.delivered = message.id;
        }
        if (page.length < PAGE && !state.missed) break;
      }
      // Synchronous with the last check of `missed`: no append can slip between them.
      state.live = true;
      this.#markDirty(ws);
    } catch (error) {
      const body = MessageBusError.is(error) ? error.toJSON().error : toErrorBody(error);
      this.refuse(ws, body);
    } finally {
      state.pumping = false;
    }
  }

  /** Attachments are written once per event (not once per message), before the object may hibernate. */
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
