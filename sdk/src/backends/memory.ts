import { MessageBusError } from '../core/errors.js';
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
import { Audience, byId, cursorExpired, type StoredMember, unknownAgent } from './shared.js';
import { firstAbove } from './sorted.js';

const NAME = 'memory';

/** Options of `InMemoryStorageBackend`. */
export interface InMemoryStorageOptions {
  /** Keep at most this many messages per room, trimming the oldest. Default: keep all. */
  maxMessages?: number;
}

/**
 * Keeps rooms in process memory: the reference backend, and the fastest. It is
 * shared by every `MessageBus` given the same instance (they see each other's
 * messages live) and gone when the process ends.
 *
 * A broadcast is stored once: its `recipients` array is shared by every
 * broadcast from the same sender while the room's membership is unchanged, and
 * a per-room list of broadcast ids serves fetches. Direct and subgroup messages
 * are indexed per recipient. Fetch is a binary search in both lists plus a
 * merge: O(log n + k).
 *
 * @example
 * ```ts
 * const bus = new MessageBus(new InMemoryStorageBackend({ maxMessages: 10_000 }), new BroadcastRoutingPolicy());
 * ```
 */
export class InMemoryStorageBackend implements StorageBackend {
  readonly name = NAME;
  readonly #rooms = new Map<string, RoomData>();
  readonly #maxMessages: number | undefined;
  #closed = false;

  constructor(options: InMemoryStorageOptions = {}) {
    const { maxMessages } = options;
    if (maxMessages !== undefined && (!Number.isInteger(maxMessages) || maxMessages < 1)) {
      throw new MessageBusError('INVALID_ARGUMENT', `[${NAME}] maxMessages must be a positive integer; got ${maxMessages}`);
    }
    this.#maxMessages = maxMessages;
  }

  getMembers(room: string): readonly MemberRecord[] {
    const data = this.#room(room, false);
    if (!data) return EMPTY;
    data.membersCache ??= [...data.members.values()].map(toRecord).sort(byId);
    return data.membersCache;
  }

  async getRoom(room: string): Promise<RoomSnapshot> {
    const data = this.#room(room, false);
    if (!data) return { room, lastId: 0, oldestId: 1, members: [] };
    const members: MemberState[] = [...data.members.values()].sort(byId).map((m) => ({
      ...toRecord(m),
      cursor: m.cursor,
      lastRoutedId: lastRoutedId(data, m),
      sentCount: m.sentCount,
      lastSentAt: m.lastSentAt,
    }));
    return { room, lastId: data.lastId, oldestId: data.oldestId, members };
  }

  async listRooms(): Promise<string[]> {
    this.#assertOpen();
    return [...this.#rooms.keys()].sort();
  }

  async putMember(room: string, update: MemberUpdate): Promise<MemberRecord> {
    const data = this.#room(room, true);
    let member = data.members.get(update.id);
    if (!member) {
      member = {
        id: update.id,
        online: update.online,
        groups: update.groups ?? [],
        joinedAfter: data.lastId,
        cursor: 0,
        sentCount: 0,
        lastSentAt: null,
      };
      data.members.set(update.id, member);
      data.audience = undefined;
    } else {
      member.online = update.online;
      if (update.groups !== undefined) member.groups = update.groups;
    }
    data.membersCache = undefined;
    return toRecord(member);
  }

  async removeMember(room: string, agentId: string): Promise<boolean> {
    const data = this.#room(room, false);
    if (!data?.members.delete(agentId)) return false;
    data.direct.delete(agentId);
    // Its earlier broadcasts lie before any later membership's joinedAfter, so no fetch needs to jump them again.
    data.own.delete(agentId);
    data.membersCache = undefined;
    data.audience = undefined;
    return true;
  }

  append(room: string, draft: MessageDraft): AppendResult {
    const data = this.#room(room, true);
    const sender = data.members.get(draft.sender);
    if (!sender) throw unknownAgent(NAME, draft.sender, room);
    const idempotencyKey = draft.idempotencyKey === undefined ? undefined : `${draft.sender}\u0000${draft.idempotencyKey}`;
    if (idempotencyKey !== undefined) {
      const earlier = data.idempotency.get(idempotencyKey);
      const message = earlier === undefined ? undefined : data.messages[earlier - data.offset];
      if (message) return { message, duplicate: true };
    }
    const id = data.lastId + 1;
    let recipients: readonly string[];
    let audience: Audience | undefined;
    if (draft.audience === 'list') {
      recipients = Object.freeze(
        draft.recipients.length === 1 && data.members.has(draft.recipients[0] as string)
          ? draft.recipients
          : draft.recipients.filter((r) => data.members.has(r)),
      );
      for (const recipient of recipients) {
        let ids = data.direct.get(recipient);
        if (!ids) data.direct.set(recipient, (ids = []));
        ids.push(id);
      }
    } else {
      audience = currentAudience(data);
      recipients = audience.recipients(draft.audience === 'members' ? null : draft.sender);
      const entry: BroadcastEntry = { id, audience, sender: draft.audience === 'members' ? null : draft.sender, seq: data.broadcastSeq++ };
      data.broadcast.push(entry);
      if (entry.sender !== null) {
        let own = data.own.get(entry.sender);
        if (!own) data.own.set(entry.sender, (own = []));
        own.push(entry);
      }
    }
    // The bus hands over a deep-frozen copy, so the caller's object cannot change the stored one.
    const content = draft.content;
    const requested = draft.routing.requested;
    const routing = Object.freeze({
      policy: draft.routing.policy,
      requested: requested === null ? null : Object.freeze(requested.slice()),
    });
    const message: StoredMessage =
      draft.idempotencyKey === undefined
        ? { id, room, timestamp: draft.timestamp, sender: draft.sender, content, recipients, routing }
        : {
            id,
            room,
            timestamp: draft.timestamp,
            sender: draft.sender,
            content,
            recipients,
            routing,
            idempotencyKey: draft.idempotencyKey,
          };
    Object.freeze(message);
    data.messages.push(message);
    data.lastId = id;
    if (idempotencyKey !== undefined) data.idempotency.set(idempotencyKey, id);
    sender.sentCount++;
    sender.lastSentAt = draft.timestamp;
    if (this.#maxMessages !== undefined) trim(data, this.#maxMessages);
    for (const listener of data.watchers) listener(message);
    return { message, duplicate: false };
  }

  async fetch(room: string, agentId: string, after: number | null, limit: number): Promise<StoredMessage[]> {
    const data = this.#room(room, false);
    const member = data?.members.get(agentId);
    if (!data || !member) throw unknownAgent(NAME, agentId, room);
    const from = after ?? member.cursor;
    // Ids in (from, oldestId) are gone; if this membership could have received any of them, say so rather than skip them.
    if (Math.max(from, member.joinedAfter) + 1 < data.oldestId) {
      throw cursorExpired(NAME, room, from, data.oldestId);
    }
    const direct = data.direct.get(agentId) ?? EMPTY_IDS;
    // A membership sees only ids after it began (a re-joined agent does not get its old membership's mail).
    const start = Math.max(from, data.oldestId - 1, member.joinedAfter);
    let d = firstAbove(direct, start, (id) => id);
    let b = firstAbove(data.broadcast, start, (entry) => entry.id);
    const out: StoredMessage[] = [];
    while (out.length < limit) {
      // Skip broadcasts this agent is not part of: its own (a run of them in one jump) or, defensively, any whose
      // audience lacks it (none after `joinedAfter`).
      while (b < data.broadcast.length) {
        const entry = data.broadcast[b] as BroadcastEntry;
        if (entry.sender === agentId) b = afterOwnRun(data, b);
        else if (!entry.audience.members.has(agentId)) b++;
        else break;
      }
      const nextDirect = d < direct.length ? (direct[d] as number) : Number.POSITIVE_INFINITY;
      const nextBroadcast = b < data.broadcast.length ? (data.broadcast[b] as BroadcastEntry).id : Number.POSITIVE_INFINITY;
      if (nextDirect === Number.POSITIVE_INFINITY && nextBroadcast === Number.POSITIVE_INFINITY) break;
      const id = Math.min(nextDirect, nextBroadcast);
      if (id === nextDirect) d++;
      if (id === nextBroadcast) b++;
      out.push(data.messages[id - data.offset] as StoredMessage);
    }
    return out;
  }

  async history(room: string, after: number, limit: number): Promise<StoredMessage[]> {
    const data = this.#room(room, false);
    if (!data) return [];
    const start = Math.max(after + 1, data.oldestId) - data.offset;
    return data.messages.slice(start, start + limit);
  }

  async ack(room: string, agentId: string, upTo: number): Promise<number> {
    const member = this.#room(room, false)?.members.get(agentId);
    if (!member) throw unknownAgent(NAME, agentId, room);
    member.cursor = Math.max(member.cursor, upTo);
    return member.cursor;
  }

  watch(room: string, listener: (message: StoredMessage) => void): () => void {
    const data = this.#room(room, true);
    data.watchers.add(listener);
    return () => data.watchers.delete(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const data of this.#rooms.values()) data.watchers.clear();
  }

  // --- internal helpers ---

  #room(room: string, create: true): RoomData;
  #room(room: string, create: false): RoomData | undefined;
  #room(room: string, create: boolean): RoomData | undefined {
    this.#assertOpen();
    let data = this.#rooms.get(room);
    if (!data && create) {
      data = {
        messages: [],
        offset: 1,
        oldestId: 1,
        lastId: 0,
        members: new Map(),
        direct: new Map(),
        broadcast: [],
        broadcastSeq: 0,
        own: new Map(),
        idempotency: new Map(),
        watchers: new Set(),
      };
      this.#rooms.set(room, data);
    }
    return data;
  }

  #assertOpen(): void {
    if (this.#closed) throw new MessageBusError('CLOSED', `[${NAME}] the storage backend is closed`);
  }
}

type MemberData = StoredMember;

interface BroadcastEntry {
  id: number;
  audience: Audience;
  /** `null` when the sender is among the recipients. */
  sender: string | null;
  /** See `RoomData.broadcastSeq`: consecutive entries have consecutive `seq`. */
  seq: number;
}

interface RoomData {
  /** Retained messages; `messages[i]` has id `offset + i`. */
  messages: StoredMessage[];
  offset: number;
  oldestId: number;
  lastId: number;
  members: Map<string, MemberData>;
  membersCache?: MemberRecord[] | undefined;
  audience?: Audience | undefined;
  /** Per recipient: ids of list-audience messages, ascending. */
  direct: Map<string, number[]>;
  broadcast: BroadcastEntry[];
  /** Ordinal of the next broadcast (never reused, unlike positions in `broadcast`, which trimming shifts). */
  broadcastSeq: number;
  /** Per sender: its broadcasts that exclude it, ascending; lets a fetch jump over a run of them. */
  own: Map<string, BroadcastEntry[]>;
  /** `sender \0 key` → id. */
  idempotency: Map<string, number>;
  watchers: Set<(message: StoredMessage) => void>;
}

const EMPTY: readonly MemberRecord[] = Object.freeze([]);
const EMPTY_IDS: readonly number[] = Object.freeze([]);

function toRecord(member: MemberData): MemberRecord {
  return { id: member.id, online: member.online, groups: [...member.groups], joinedAfter: member.joinedAfter };
}

function currentAudience(data: RoomData): Audience {
  data.audience ??= new Audience([...data.members.keys()]);
  return data.audience;
}

function lastRoutedId(data: RoomData, member: MemberData): number {
  const agentId = member.id;
  const direct = data.direct.get(agentId);
  let last = direct && direct.length > 0 ? (direct[direct.length - 1] as number) : 0;
  // Only this membership's broadcasts count: an earlier membership's audience may still name the agent.
  const floor = Math.max(last, member.joinedAfter);
  for (let i = data.broadcast.length - 1; i >= 0; ) {
    const entry = data.broadcast[i] as BroadcastEntry;
    if (entry.id <= floor) break;
    if (entry.sender === agentId) i = beforeOwnRun(data, i);
    else if (!entry.audience.members.has(agentId)) i--;
    else {
      last = entry.id;
      break;
    }
  }
  return last >= data.oldestId ? last : 0;
}

/**
 * Position just after the run of consecutive broadcasts by the sender of `data.broadcast[position]` (which must
 * exclude their sender). Broadcasts `i` and `i + k` of a sender's own list are adjacent in the room's list exactly
 * when their `seq` differ by `k`, so the run's end is found by binary search: O(log n), not a scan.
 */
function afterOwnRun(data: RoomData, position: number): number {
  const entry = data.broadcast[position] as BroadcastEntry;
  const own = data.own.get(entry.sender as string) ?? [];
  const j = firstAbove(own, entry.id - 1, (e) => e.id);
  let low = 0;
  let high = own.length - 1 - j;
  while (low < high) {
    const mid = (low + high + 1) >>> 1;
    if ((own[j + mid] as BroadcastEntry).seq - entry.seq === mid) low = mid;
    else high = mid - 1;
  }
  return position + low + 1;
}

/** Position just before the run of consecutive own broadcasts that ends at `position` (see `afterOwnRun`). */
function beforeOwnRun(data: RoomData, position: number): number {
  const entry = data.broadcast[position] as BroadcastEntry;
  const own = data.own.get(entry.sender as string) ?? [];
  const j = firstAbove(own, entry.id - 1, (e) => e.id);
  let low = 0;
  let high = j;
  while (low < high) {
    const mid = (low + high + 1) >>> 1;
    if (entry.seq - (own[j - mid] as BroadcastEntry).seq === mid) low = mid;
    else high = mid - 1;
  }
  return position - low - 1;
}

/** Drops the oldest messages beyond `max`; index lists are compacted once the dead prefix is large. */
function trim(data: RoomData, max: number): void {
  const excess = data.lastId - data.oldestId + 1 - max;
  if (excess <= 0) return;
  for (let id = data.oldestId; id < data.oldestId + excess; id++) {
    const message = data.messages[id - data.offset] as StoredMessage;
    if (message.idempotencyKey !== undefined) data.idempotency.delete(`${message.sender}\u0000${message.idempotencyKey}`);
  }
  data.oldestId += excess;
  const dead = data.oldestId - data.offset;
  if (dead >= Math.max(1024, data.messages.length / 2)) {
    data.messages = data.messages.slice(dead);
    data.offset = data.oldestId;
    const keep = data.oldestId;
    data.broadcast = data.broadcast.slice(firstAbove(data.broadcast, keep - 1, (e) => e.id));
    for (const [agent, own] of data.own) data.own.set(agent, own.slice(firstAbove(own, keep - 1, (e) => e.id)));
    for (const [agent, ids] of data.direct) data.direct.set(agent, ids.slice(firstAbove(ids, keep - 1, (id) => id)));
  }
}
