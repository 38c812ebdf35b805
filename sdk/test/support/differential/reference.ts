/**
 * The scanning reference: what a room must answer, written as plainly as
 * possible. It keeps every message with its full recipient list and answers
 * every read by scanning all of them: no index, no epochs, no runs, nothing
 * shared with any backend or with the storage kit. The differential harness
 * drives it beside a real bus and compares every answer.
 */
import type { JsonValue, RoutingPolicy, StoredMessage } from '../../../src/core/types.js';

/** An error as the harness compares it: the code and details, not the wording. */
export class Rejection {
  constructor(
    readonly code: string,
    readonly details: Record<string, unknown> = {},
  ) {}
}

interface Member {
  id: string;
  online: boolean;
  groups: string[];
  joinedAfter: number;
  cursor: number;
  sentCount: number;
  lastSentAt: number | null;
}

/** A member as `getRoom` / `connectAgent` report it. */
export interface ReferenceMemberState {
  id: string;
  online: boolean;
  groups: string[];
  joinedAfter: number;
  cursor: number;
  lastRoutedId: number;
  sentCount: number;
  lastSentAt: number | null;
}

export class ScanningReference {
  readonly room: string;
  readonly #maxMessages: number | undefined;
  readonly #maxContentBytes: number;
  readonly #members = new Map<string, Member>();
  /** Every retained message, ascending. */
  #messages: StoredMessage[] = [];
  #lastId = 0;
  #oldestId = 1;

  constructor(room: string, options: { maxMessages?: number; maxContentBytes: number }) {
    this.room = room;
    this.#maxMessages = options.maxMessages;
    this.#maxContentBytes = options.maxContentBytes;
  }

  memberIds(): string[] {
    return [...this.#members.keys()].sort();
  }

  isOnline(agent: string): boolean {
    return this.#members.get(agent)?.online === true;
  }

  get lastId(): number {
    return this.#lastId;
  }

  connect(agent: string, groups?: string[]): ReferenceMemberState {
    const member = this.#members.get(agent);
    if (member) {
      member.online = true;
      if (groups !== undefined) member.groups = normalise(groups);
    } else {
      this.#members.set(agent, {
        id: agent,
        online: true,
        groups: groups === undefined ? [] : normalise(groups),
        joinedAfter: this.#lastId,
        cursor: 0,
        sentCount: 0,
        lastSentAt: null,
      });
    }
    return this.#state(this.#members.get(agent) as Member);
  }

  disconnect(agent: string): void {
    this.#require(agent).online = false;
  }

  remove(agent: string): void {
    this.#require(agent);
    this.#members.delete(agent);
  }

  joinGroup(agent: string, group: string): string[] {
    const member = this.#require(agent);
    member.groups = normalise([...member.groups, group]);
    return member.groups;
  }

  leaveGroup(agent: string, group: string): string[] {
    const member = this.#require(agent);
    member.groups = normalise(member.groups.filter((g) => g !== group));
    return member.groups;
  }

  /** A send through `policy` at `timestamp`, in the bus's order of checks. */
  send(
    policy: RoutingPolicy,
    sender: string,
    content: JsonValue,
    requested: readonly string[] | undefined,
    idempotencyKey: string | undefined,
    timestamp: number,
  ): StoredMessage {
    const json = JSON.stringify(content);
    const bytes = new TextEncoder().encode(json).length;
    if (bytes > this.#maxContentBytes) throw new Rejection('CONTENT_TOO_LARGE', { limit: this.#maxContentBytes, size: bytes });
    const member = this.#members.get(sender);
    if (!member) throw new Rejection('UNKNOWN_AGENT');
    if (!member.online) throw new Rejection('AGENT_OFFLINE');
    const recipients = this.#route(policy, sender, content, requested);
    if (idempotencyKey !== undefined) {
      const earlier = this.#messages.find((m) => m.sender === sender && m.idempotencyKey === idempotencyKey);
      if (earlier) return earlier;
    }
    const id = ++this.#lastId;
    const message: StoredMessage = {
      id,
      room: this.room,
      timestamp,
      sender,
      content: JSON.parse(json) as JsonValue,
      recipients,
      routing: { policy: policy.name, requested: requested === undefined ? null : [...requested] },
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    };
    this.#messages.push(message);
    member.sentCount++;
    member.lastSentAt = timestamp;
    if (this.#maxMessages !== undefined && this.#messages.length > this.#maxMessages) {
      this.#messages = this.#messages.slice(this.#messages.length - this.#maxMessages);
      this.#oldestId = (this.#messages[0] as StoredMessage).id;
    }
    return message;
  }

  fetch(agent: string, after: number | undefined, limit: number): StoredMessage[] {
    const member = this.#require(agent);
    const from = after ?? member.cursor;
    const oldestId = this.#messages.length > 0 ? this.#oldestId : this.#lastId + 1;
    // Trimmed ids this membership could have received: an error, never a silent skip.
    if (from + 1 < oldestId && member.joinedAfter + 1 < oldestId) throw new Rejection('CURSOR_EXPIRED', { oldestId });
    return this.#messages.filter((m) => m.id > from && m.id > member.joinedAfter && m.recipients.includes(agent)).slice(0, limit);
  }

  history(after: number, limit: number): StoredMessage[] {
    return this.#messages.filter((m) => m.id > after).slice(0, limit);
  }

  ack(agent: string, upTo: number): number {
    const member = this.#require(agent);
    if (upTo > this.#lastId) throw new Rejection('INVALID_ARGUMENT');
    member.cursor = Math.max(member.cursor, upTo);
    return member.cursor;
  }

  /** `getRoom` of the storage. */
  snapshot(): { room: string; lastId: number; oldestId: number; members: ReferenceMemberState[] } {
    return {
      room: this.room,
      lastId: this.#lastId,
      oldestId: this.#messages.length > 0 ? this.#oldestId : this.#lastId + 1,
      members: this.memberIds().map((id) => this.#state(this.#members.get(id) as Member)),
    };
  }

  /** Ids routed to `agent` after `after` in its current membership: what a subscription delivers. */
  routedIds(agent: string, after: number): number[] {
    const member = this.#members.get(agent);
    if (!member) return [];
    return this.#messages.filter((m) => m.id > after && m.id > member.joinedAfter && m.recipients.includes(agent)).map((m) => m.id);
  }

  // --- internal helpers ---

  #route(policy: RoutingPolicy, sender: string, content: JsonValue, requested: readonly string[] | undefined): string[] {
    const ids = this.memberIds();
    const members = ids.map((id) => {
      const m = this.#members.get(id) as Member;
      return { id, online: m.online, groups: [...m.groups] };
    });
    const groups = new Map<string, string[]>();
    for (const m of members) for (const g of m.groups) groups.set(g, [...(groups.get(g) ?? []), m.id]);
    const view = {
      id: this.room,
      members,
      groups,
      has: (id: string) => this.#members.has(id),
      member: (id: string) => members.find((m) => m.id === id),
    };
    let result: unknown;
    try {
      result = policy.route({ sender, content, recipients: requested }, view);
    } catch (error) {
      const e = error as { name?: string; code?: string; details?: Record<string, unknown> };
      if (e?.name === 'MessageBusError') throw new Rejection(e.code as string, e.details);
      throw new Rejection('ROUTING_FAILED');
    }
    if (Array.isArray(result)) {
      if (!result.every((id) => typeof id === 'string' && this.#members.has(id))) throw new Rejection('ROUTING_FAILED');
      return [...new Set(result as string[])].sort();
    }
    const audience = (result as { audience?: unknown } | null)?.audience;
    if (audience === 'members') return ids;
    if (audience === 'members-except-sender') return ids.filter((id) => id !== sender);
    throw new Rejection('ROUTING_FAILED');
  }

  #state(member: Member): ReferenceMemberState {
    const routed = this.#messages.filter((m) => m.id > member.joinedAfter && m.recipients.includes(member.id));
    return {
      id: member.id,
      online: member.online,
      groups: [...member.groups],
      joinedAfter: member.joinedAfter,
      cursor: member.cursor,
      lastRoutedId: routed.at(-1)?.id ?? 0,
      sentCount: member.sentCount,
      lastSentAt: member.lastSentAt,
    };
  }

  #require(agent: string): Member {
    const member = this.#members.get(agent);
    if (!member) throw new Rejection('UNKNOWN_AGENT');
    return member;
  }
}

function normalise(groups: string[]): string[] {
  return [...new Set(groups)].sort();
}
