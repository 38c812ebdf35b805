import { MessageBusError } from '../core/errors.js';
import type { McpBus } from './bus.js';

/** What the session does when the agent comes back online or goes offline. */
export interface PresenceHooks {
  online(lastRoutedId: number): void;
  offline(): void;
  error(error: Error): void;
}

/** Default idle time after which an MCP agent goes offline: 5 minutes without a tool call. */
export const DEFAULT_IDLE_MS = 5 * 60_000;

/**
 * The agent's presence for one MCP session: online from `join_room` while
 * tool calls keep coming, offline after `idleMs` without one (a call in
 * progress, such as a long `wait_for_messages`, counts as activity), and back
 * online at the next call. `leave_room` ends the membership; closing the
 * session only takes the agent offline.
 */
export class Presence {
  readonly #bus: McpBus;
  readonly #agent: string;
  readonly #idleMs: number;
  readonly #hooks: PresenceHooks;
  #joined = false;
  #idle = false;
  #calls = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(bus: McpBus, agent: string, idleMs: number, hooks: PresenceHooks) {
    this.#bus = bus;
    this.#agent = agent;
    this.#idleMs = idleMs;
    this.#hooks = hooks;
  }

  /** A tool call starts: an agent that went idle comes back online first. Pair every call with `end()`, also when it throws. */
  async begin(): Promise<void> {
    this.#calls++;
    clearTimeout(this.#timer);
    if (this.#joined && this.#idle) {
      const member = await this.#bus.connectAgent(this.#agent);
      this.#idle = false;
      this.#hooks.online(member.lastRoutedId);
    }
  }

  /** A tool call ended. */
  end(): void {
    this.#calls = Math.max(0, this.#calls - 1);
    if (this.#calls === 0) this.#arm();
  }

  joined(): void {
    this.#joined = true;
    this.#idle = false;
  }

  left(): void {
    this.#joined = false;
    this.#idle = false;
    clearTimeout(this.#timer);
  }

  /** The session ended: the agent goes offline (it stays a member). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    if (this.#joined && !this.#idle) await this.#offline();
  }

  #arm(): void {
    if (!this.#joined || this.#closed || this.#idleMs <= 0) return;
    this.#timer = setTimeout(() => {
      if (this.#calls > 0 || !this.#joined) return;
      this.#idle = true;
      void this.#offline();
    }, this.#idleMs);
    // Node: an idle timer must not keep a finished process alive.
    (this.#timer as { unref?: () => void }).unref?.();
  }

  async #offline(): Promise<void> {
    this.#hooks.offline();
    try {
      await this.#bus.disconnectAgent(this.#agent);
    } catch (error) {
      // A bus closed before the session (a process shutting down) has no presence left to update.
      if (MessageBusError.is(error, 'CLOSED')) return;
      this.#hooks.error(error instanceof Error ? error : new Error(String(error)));
    }
  }
}
