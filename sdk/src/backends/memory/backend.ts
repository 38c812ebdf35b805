import { KEEPS_DRAFT_OBJECTS } from '../../core/draft.js';
import type {
  AppendResult,
  MemberRecord,
  MemberUpdate,
  MessageDraft,
  RoomSnapshot,
  StorageBackend,
  StoredMessage,
  StreamChannel,
  StreamSignal,
} from '../../core/types.js';
import {
  byId,
  checkMaxMessages,
  closedError,
  DeliveryIndex,
  draftIdempotencyField,
  type Epoch,
  EpochCache,
  fetchStart,
  idempotencyField,
  latestWindow,
  messageFromDraft,
  NO_MEMBERS,
  newMember,
  replyThread,
  retainedOrZero,
  type StoredMember,
  StreamChannels,
  seenBy,
  ThreadIndex,
  toRecord,
  toState,
  unknownAgent,
} from '../kit/index.js';

const NAME = 'memory';

/** Options of `InMemoryStorageBackend`. */
export interface InMemoryStorageOptions {
  /** Keep at most this many messages per room, trimming the oldest. Default: keep all. */
  maxMessages?: number;
}

/**
 * Keeps rooms in process memory: the fastest backend. It is shared by every
 * `MessageBus` given the same instance (they see each other's messages live)
 * and gone when the process ends.
 *
 * A broadcast is stored once: its `recipients` array is shared by every
 * broadcast from the same sender while the room's membership is unchanged
 * (one epoch), and the shared `DeliveryIndex` (also used by the file backend)
 * serves fetches: O(log n + k). A `ThreadIndex` (also the file backend's)
 * serves `fetchThread`.
 *
 * @example
 * ```ts
 * const bus = new MessageBus(new InMemoryStorageBackend({ maxMessages: 10_000 }), new BroadcastRoutingPolicy());
 * ```
 */
export class InMemoryStorageBackend implements StorageBackend {
  readonly name = NAME;
  /** It stores the bus's frozen content as it is and never reads `contentJson`: drafts need not stringify. */
  readonly [KEEPS_DRAFT_OBJECTS] = true;
  readonly #rooms = new Map<string, RoomData>();
  readonly #maxMessages: number | undefined;
  readonly #epochs = new EpochCache();
  readonly #streams = new StreamChannels();
  #closed = false;

  constructor(options: InMemoryStorageOptions = {}) {
    this.#maxMessages = checkMaxMessages(NAME, options.maxMessages);
  }

  getMembers(room: string): readonly MemberRecord[] {
    const data = this.#room(room, false);
    if (!data) return NO_MEMBERS;
    data.membersCache ??= [...data.members.values()].map(toRecord).sort(byId);
    return data.membersCache;
  }

  async getRoom(room: string): Promise<RoomSnapshot> {
    const data = this.#room(room, false);
    if (!data) return { room, lastId: 0, oldestId: 1, members: [] };
    const members = [...data.members.values()]
      .sort(byId)
      .map((m) => toState(m, retainedOrZero(data.index.lastRoutedId(m.id, m.joinedAfter), data.oldestId)));
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
      member = newMember(update, data.lastId);
      data.members.set(update.id, member);
      data.index.join(update.id, member.joinedAfter);
      data.epoch = undefined;
      data.checkedLists = new WeakSet();
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
    data.index.leave(agentId);
    data.membersCache = undefined;
    data.epoch = undefined;
    data.checkedLists = new WeakSet();
    return true;
  }

  append(room: string, draft: MessageDraft): AppendResult {
    const data = this.#room(room, true);
    const sender = data.members.get(draft.sender);
    if (!sender) throw unknownAgent(NAME, draft.sender, room);
    const field = draftIdempotencyField(draft);
    if (field !== undefined) {
      const earlier = data.idempotency.get(field);
      const message = earlier === undefined ? undefined : data.messages[earlier - data.offset];
      if (message) return { message, duplicate: true };
    }
    const id = data.lastId + 1;
    const parent = draft.inReplyTo === undefined ? undefined : retained(data, draft.inReplyTo);
    const thread = replyThread(NAME, room, id, draft.inReplyTo, parent, sender);
    let recipients: readonly string[];
    if (draft.audience === 'list') {
      recipients = checkedRecipients(data, draft.recipients);
      data.index.addList(id, recipients);
    } else {
      const excluded = draft.audience === 'members' ? null : draft.sender;
      recipients = this.#currentEpoch(room, data).recipients(excluded);
      data.index.addBroadcast(id, excluded);
    }
    const message = messageFromDraft(room, id, draft, recipients, thread);
    data.messages.push(message);
    data.threads.add(thread, id);
    data.lastId = id;
    if (field !== undefined) data.idempotency.set(field, id);
    sender.sentCount++;
    sender.lastSentAt = draft.timestamp;
    if (this.#maxMessages !== undefined) trim(data, this.#maxMessages);
    // forEach, not for-of: the same live iteration without an iterator and a result object per watcher.
    data.watchers.forEach(tellWatcher, message);
    return { message, duplicate: false };
  }

  async fetch(room: string, agentId: string, after: number | null, limit: number): Promise<StoredMessage[]> {
    const data = this.#room(room, false);
    const member = data?.members.get(agentId);
    if (!data || !member) throw unknownAgent(NAME, agentId, room);
    const start = fetchStart(NAME, room, after, member, data.oldestId);
    return data.index.routedIds(agentId, start, limit).map((id) => data.messages[id - data.offset] as StoredMessage);
  }

  async fetchThread(room: string, agentId: string, thread: number, after: number, limit: number): Promise<StoredMessage[]> {
    const data = this.#room(room, false);
    const member = data?.members.get(agentId);
    if (!data || !member) throw unknownAgent(NAME, agentId, room);
    const from = Math.max(after, data.oldestId - 1);
    const root = retained(data, thread);
    const visible = (id: number) => seenBy(member, data.messages[id - data.offset] as StoredMessage);
    const ids = data.threads.ids(thread, from, limit, root?.thread === thread, visible);
    return ids.map((id) => data.messages[id - data.offset] as StoredMessage);
  }

  async fetchLatest(room: string, agentId: string, before: number | null, limit: number): Promise<StoredMessage[]> {
    const data = this.#room(room, false);
    const member = data?.members.get(agentId);
    if (!data || !member) throw unknownAgent(NAME, agentId, room);
    const window = latestWindow(member.joinedAfter, data.oldestId, before);
    return data.index.latestIds(agentId, window.floor, window.before, limit).map((id) => data.messages[id - data.offset] as StoredMessage);
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

  /** Signals reach the room's other channels on this instance synchronously, in publish order. */
  openStreamChannel(room: string, listener: (signal: StreamSignal) => void): StreamChannel {
    this.#assertOpen();
    return this.#streams.open(room, listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const data of this.#rooms.values()) data.watchers.clear();
    this.#streams.clear();
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
        index: new DeliveryIndex(),
        threads: new ThreadIndex(),
        epochNumber: 0,
        checkedLists: new WeakSet(),
        idempotency: new Map(),
        watchers: new Set(),
      };
      this.#rooms.set(room, data);
    }
    return data;
  }

  /** The epoch broadcasts are stored in now: a new one after every join or leave. */
  #currentEpoch(room: string, data: RoomData): Epoch {
    data.epoch ??= this.#epochs.put(room, ++data.epochNumber, data.members.keys());
    return data.epoch;
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError(NAME);
  }
}

interface RoomData {
  /** Retained messages; `messages[i]` has id `offset + i`. */
  messages: StoredMessage[];
  offset: number;
  oldestId: number;
  lastId: number;
  members: Map<string, StoredMember>;
  membersCache?: MemberRecord[] | undefined;
  index: DeliveryIndex;
  threads: ThreadIndex;
  /** The current epoch, `undefined` after a join or leave until the next broadcast. */
  epoch?: Epoch | undefined;
  epochNumber: number;
  /** Recipient lists of the bus found to name only members, until membership changes (the bus shares them between sends). */
  checkedLists: WeakSet<readonly string[]>;
  /** `idempotencyField(sender, key)` → id. */
  idempotency: Map<string, number>;
  watchers: Set<(message: StoredMessage) => void>;
}

/** A list message's recipients: the backend's membership at append time wins over the bus's view; the bus's list is kept when it agrees. */
function checkedRecipients(data: RoomData, requested: readonly string[]): readonly string[] {
  const members = data.members;
  // First by identity: the bus hands the same frozen list for the same one-id request (core/frozen-lists.ts).
  if (data.checkedLists.has(requested)) return requested;
  if (!requested.every((r) => members.has(r))) return Object.freeze(requested.filter((r) => members.has(r)));
  Object.freeze(requested);
  data.checkedLists.add(requested);
  return requested;
}

function tellWatcher(this: StoredMessage, listener: (message: StoredMessage) => void): void {
  listener(this);
}

/** Drops the oldest messages beyond `max`; the message array and the index are compacted once the dead prefix is large. */
function trim(data: RoomData, max: number): void {
  const excess = data.lastId - data.oldestId + 1 - max;
  if (excess <= 0) return;
  for (let id = data.oldestId; id < data.oldestId + excess; id++) {
    const message = data.messages[id - data.offset] as StoredMessage;
    if (message.idempotencyKey !== undefined) data.idempotency.delete(idempotencyField(message.sender, message.idempotencyKey));
  }
  data.oldestId += excess;
  const dead = data.oldestId - data.offset;
  if (dead >= Math.max(1024, data.messages.length / 2)) {
    data.messages = data.messages.slice(dead);
    data.offset = data.oldestId;
    data.index.dropBelow(data.oldestId);
    data.threads.dropBelow(data.oldestId);
  }
}

/** The retained message with this id, if any. */
function retained(data: RoomData, id: number): StoredMessage | undefined {
  return id >= data.oldestId && id <= data.lastId ? data.messages[id - data.offset] : undefined;
}
