import { MessageBusError } from '../../core/errors.js';
import type {
  AppendResult,
  JsonValue,
  MemberRecord,
  MemberUpdate,
  MessageDraft,
  MessageMetadata,
  RoomSnapshot,
  StorageBackend,
  StoredMessage,
} from '../../core/types.js';
import { deepFreeze } from '../../core/validate.js';
import {
  broadcastWalk,
  checkMaxMessages,
  closedError,
  EpochCache,
  fetchStart,
  lastBroadcastWalk,
  latestBroadcastWalk,
  latestWindow,
  mergeAscending,
  newestAscending,
  replyThread,
  retainedOrZero,
  seenBy,
  storedMessage,
  unknownAgent,
  type Viewer,
  walkSync,
} from '../kit/index.js';
import { SqlBroadcastSource, trimOwnRuns } from './runs.js';
import { migrate, type SqlRow, type SqlStorageLike } from './schema.js';
import { countInTail, HEAD_QUERY, SETTLE_EVERY, settle, type TailStats, tailStats } from './settled.js';

export type { SqlCursorLike, SqlStorageLike } from './schema.js';

const NAME = 'durable-object';

/**
 * The part of a Durable Object's `ctx.storage` this backend uses. Typed
 * structurally so the SDK never imports `cloudflare:workers`: pass
 * `ctx.storage` itself.
 */
export interface DurableObjectStorageLike {
  readonly sql: SqlStorageLike;
  /** Runs `closure` as one SQLite transaction (rolled back if it throws). */
  transactionSync?<T>(closure: () => T): T;
}

/** Options of `DurableObjectStorageBackend`. */
export interface DurableObjectStorageOptions {
  /** Keep at most this many messages per room, trimming the oldest. Default: keep all. */
  maxMessages?: number;
}

/**
 * Stores rooms in a SQLite-backed Durable Object (`ctx.storage.sql`, declared
 * with `new_sqlite_classes`). Every call is synchronous SQL under the hood. An
 * append is usually one INSERT whose triggers (`APPEND_TRIGGERS` in schema.ts)
 * write the delivery index and the own runs in the same statement, so they
 * commit together; the room head and the members' stats are settled every
 * `SETTLE_EVERY` appends (settled.ts). An append that also starts an epoch,
 * creates the room, settles or trims runs in `transactionSync`.
 *
 * Broadcasts are stored once: the room's membership (an epoch) is stored as an
 * `mmb_audiences` row the first time a broadcast follows a join or leave, and
 * each broadcast row points at it. Fetch walks two indexes (per-recipient rows
 * for direct and subgroup messages, per-epoch id ranges for broadcasts) and
 * jumps over the agent's own runs (`mmb_own_runs`): O(log n + k).
 *
 * Instances created over the same `ctx.storage` in one isolate share their
 * live `watch` feed and membership cache, as two buses in one object would.
 *
 * @example
 * ```ts
 * import { DurableObject } from 'cloudflare:workers';
 * export class Room extends DurableObject {
 *   bus = new MessageBus(new DurableObjectStorageBackend(this.ctx.storage), new BroadcastRoutingPolicy(), { room: 'lobby' });
 * }
 * ```
 */
export class DurableObjectStorageBackend implements StorageBackend {
  readonly name = NAME;
  readonly #storage: DurableObjectStorageLike;
  readonly #sql: SqlStorageLike;
  readonly #shared: SharedState;
  readonly #maxMessages: number | undefined;
  #closed = false;

  constructor(storage: DurableObjectStorageLike, options: DurableObjectStorageOptions = {}) {
    if (!storage || typeof storage.sql?.exec !== 'function') {
      throw new MessageBusError(
        'MISCONFIGURED',
        `[${NAME}] pass a Durable Object's ctx.storage (with .sql): declare the class under new_sqlite_classes in wrangler.toml`,
      );
    }
    this.#storage = storage;
    this.#sql = storage.sql;
    this.#maxMessages = checkMaxMessages(NAME, options.maxMessages);
    let shared = SHARED.get(storage);
    if (!shared) {
      this.#transaction(() => migrate(storage.sql));
      shared = { watchers: new Map(), members: new Map(), epochs: new EpochCache(), heads: new Map(), tails: new Map() };
      SHARED.set(storage, shared);
    }
    this.#shared = shared;
  }

  /** Synchronous (SQLite in the object is): the bus skips a microtask per send. */
  getMembers(room: string): readonly MemberRecord[] {
    this.#assertOpen();
    let members = this.#shared.members.get(room);
    if (!members) {
      members = Object.freeze(
        this.#rows('SELECT agent, online, group_names, joined_after FROM mmb_members WHERE room = ? ORDER BY agent', room).map(recordOfRow),
      );
      this.#shared.members.set(room, members);
    }
    return members;
  }

  async getRoom(room: string): Promise<RoomSnapshot> {
    this.#assertOpen();
    const head = this.#head(room);
    if (!head) return { room, lastId: 0, oldestId: 1, members: [] };
    // The stored stats count the messages up to the settled id; the tail above it is added here.
    const tail = this.#tail(room, head);
    const members = this.#rows('SELECT * FROM mmb_members WHERE room = ? ORDER BY agent', room).map((row) => {
      const record = recordOfRow(row);
      const recent = tail.get(record.id);
      return {
        ...record,
        cursor: row.acked as number,
        lastRoutedId: this.#lastRoutedId(room, record.id, record.joinedAfter, head.oldestId),
        sentCount: (row.sent_count as number) + (recent?.sent ?? 0),
        lastSentAt: recent ? recent.at : ((row.last_sent_at as number | null) ?? null),
      };
    });
    return { room, lastId: head.lastId, oldestId: head.oldestId, members };
  }

  async listRooms(): Promise<string[]> {
    this.#assertOpen();
    return this.#rows('SELECT room FROM mmb_rooms ORDER BY room').map((row) => row.room as string);
  }

  async putMember(room: string, update: MemberUpdate): Promise<MemberRecord> {
    this.#assertOpen();
    return this.#transaction(() => {
      const head = this.#ensureRoom(room);
      const existing = this.#rows(
        'SELECT agent, online, group_names, joined_after FROM mmb_members WHERE room = ? AND agent = ?',
        room,
        update.id,
      )[0];
      if (!existing) {
        const groups = update.groups ?? [];
        this.#sql.exec(
          'INSERT INTO mmb_members (room, agent, online, group_names, joined_after) VALUES (?, ?, ?, ?, ?)',
          room,
          update.id,
          update.online ? 1 : 0,
          JSON.stringify(groups),
          head.lastId,
        );
        // The next broadcast needs a new epoch that includes this member.
        this.#sql.exec('UPDATE mmb_rooms SET audience_valid = 0 WHERE room = ?', room);
        this.#shared.members.delete(room);
        this.#shared.heads.delete(room);
        return { id: update.id, online: update.online, groups: [...groups], joinedAfter: head.lastId };
      }
      const record = recordOfRow(existing);
      record.online = update.online;
      if (update.groups !== undefined) record.groups = [...update.groups];
      this.#sql.exec(
        'UPDATE mmb_members SET online = ?, group_names = ? WHERE room = ? AND agent = ?',
        update.online ? 1 : 0,
        JSON.stringify(record.groups),
        room,
        update.id,
      );
      this.#shared.members.delete(room);
      this.#shared.heads.delete(room);
      return record;
    });
  }

  async removeMember(room: string, agentId: string): Promise<boolean> {
    this.#assertOpen();
    return this.#transaction(() => {
      const removed = this.#sql.exec('DELETE FROM mmb_members WHERE room = ? AND agent = ?', room, agentId).rowsWritten > 0;
      if (!removed) return false;
      // Index rows only: stored messages keep their recipients, a later membership starts clean.
      this.#sql.exec('DELETE FROM mmb_deliveries WHERE room = ? AND agent = ?', room, agentId);
      this.#sql.exec('DELETE FROM mmb_audience_members WHERE room = ? AND agent = ?', room, agentId);
      this.#sql.exec('UPDATE mmb_rooms SET audience_valid = 0 WHERE room = ?', room);
      this.#shared.members.delete(room);
      this.#shared.heads.delete(room);
      // Its unsettled messages counted for this membership only (settled.ts): a later one starts at zero.
      this.#shared.tails.get(room)?.delete(agentId);
      return true;
    });
  }

  /** Synchronous, like `getMembers`; a refusal is a synchronous throw. */
  append(room: string, draft: MessageDraft): AppendResult {
    this.#assertOpen();
    // The membership cache is exact (every member change in this isolate clears it) and nothing can interleave with
    // synchronous SQL, so checking before the transaction is as atomic as checking inside it.
    if (!this.getMembers(room).some((m) => m.id === draft.sender)) throw unknownAgent(NAME, draft.sender, room);
    let result: AppendResult & { head?: RoomHead };
    try {
      // The usual append is one INSERT (APPEND_TRIGGERS do the rest), atomic alone; a new room, a new epoch or
      // retention add statements, and those run in one transaction.
      result = this.#isOneStatement(room, draft) ? this.#appendSync(room, draft) : this.#transaction(() => this.#appendSync(room, draft));
    } catch (error) {
      this.#shared.heads.delete(room);
      this.#shared.tails.delete(room);
      throw error;
    }
    if (result.head) this.#shared.heads.set(room, result.head);
    const appended: AppendResult = { message: result.message, duplicate: result.duplicate };
    if (!result.duplicate) {
      for (const listener of this.#shared.watchers.get(room) ?? []) listener(result.message);
    }
    return appended;
  }

  async fetch(room: string, agentId: string, after: number | null, limit: number): Promise<StoredMessage[]> {
    this.#assertOpen();
    const head = this.#head(room);
    const member = head && this.#rows('SELECT acked, joined_after FROM mmb_members WHERE room = ? AND agent = ?', room, agentId)[0];
    if (!head || !member) throw unknownAgent(NAME, agentId, room);
    const start = fetchStart(
      NAME,
      room,
      after,
      { cursor: member.acked as number, joinedAfter: member.joined_after as number },
      head.oldestId,
    );
    const direct = this.#rows(
      'SELECT id FROM mmb_deliveries WHERE room = ? AND agent = ? AND id > ? ORDER BY id LIMIT ?',
      room,
      agentId,
      start,
      limit,
    );
    const directIds = direct.map((row) => row.id as number);
    // With a full page of direct ids, nothing above the last one can be in the answer.
    const ceiling = directIds.length === limit ? (directIds[limit - 1] as number) : Number.POSITIVE_INFINITY;
    const broadcastIds = walkSync(broadcastWalk(agentId, start, limit, ceiling), new SqlBroadcastSource(this.#sql, room));
    return this.#messages(room, mergeAscending(directIds, broadcastIds, limit));
  }

  async fetchThread(room: string, agentId: string, thread: number, after: number, limit: number): Promise<StoredMessage[]> {
    this.#assertOpen();
    const head = this.#head(room);
    const viewer = head && this.#viewer(room, agentId);
    if (!head || !viewer) throw unknownAgent(NAME, agentId, room);
    const from = Math.max(after, head.oldestId - 1);
    const out: StoredMessage[] = [];
    const keep = (row: SqlRow) => {
      const message = this.#toMessage(room, row);
      if (out.length < limit && seenBy(viewer, message)) out.push(message);
    };
    // The root (a row without a thread is one), then its replies by the thread index, a page at a time.
    if (thread > from) {
      const [root] = this.#rows('SELECT * FROM mmb_messages WHERE room = ? AND id = ? AND thread IS NULL', room, thread);
      if (root) keep(root);
    }
    for (let pos = from; out.length < limit; ) {
      const want = Math.max(16, limit - out.length);
      const page = this.#rows(
        'SELECT * FROM mmb_messages WHERE room = ? AND thread = ? AND id > ? ORDER BY id LIMIT ?',
        room,
        thread,
        pos,
        want,
      );
      for (const row of page) keep(row);
      if (page.length < want) break;
      pos = page[page.length - 1]?.id as number;
    }
    return out;
  }

  async fetchLatest(room: string, agentId: string, before: number | null, limit: number): Promise<StoredMessage[]> {
    this.#assertOpen();
    const head = this.#head(room);
    const viewer = head && this.#viewer(room, agentId);
    if (!head || !viewer) throw unknownAgent(NAME, agentId, room);
    const window = latestWindow(viewer.joinedAfter, head.oldestId, before);
    const below = Number.isFinite(window.before) ? window.before : Number.MAX_SAFE_INTEGER;
    const direct = this.#rows(
      'SELECT id FROM mmb_deliveries WHERE room = ? AND agent = ? AND id > ? AND id < ? ORDER BY id DESC LIMIT ?',
      room,
      agentId,
      window.floor,
      below,
      limit,
    ).map((row) => row.id as number);
    const broadcast = walkSync(latestBroadcastWalk(agentId, window.floor, window.before, limit), new SqlBroadcastSource(this.#sql, room));
    return this.#messages(room, newestAscending(direct, broadcast, limit));
  }

  async history(room: string, after: number, limit: number): Promise<StoredMessage[]> {
    this.#assertOpen();
    return this.#rows('SELECT * FROM mmb_messages WHERE room = ? AND id > ? ORDER BY id LIMIT ?', room, after, limit).map((row) =>
      this.#toMessage(room, row),
    );
  }

  async ack(room: string, agentId: string, upTo: number): Promise<number> {
    this.#assertOpen();
    const row = this.#rows(
      'UPDATE mmb_members SET acked = MAX(acked, ?) WHERE room = ? AND agent = ? RETURNING acked',
      upTo,
      room,
      agentId,
    )[0];
    if (!row) throw unknownAgent(NAME, agentId, room);
    return row.acked as number;
  }

  watch(room: string, listener: (message: StoredMessage) => void): () => void {
    this.#assertOpen();
    let listeners = this.#shared.watchers.get(room);
    if (!listeners) this.#shared.watchers.set(room, (listeners = new Set()));
    const own = listeners;
    const entry = (message: StoredMessage) => {
      if (!this.#closed) listener(message);
    };
    own.add(entry);
    return () => {
      own.delete(entry);
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  // --- internal helpers ---

  #appendSync(room: string, draft: MessageDraft): AppendResult & { head?: RoomHead } {
    let head = this.#ensureRoom(room);
    if (draft.idempotencyKey !== undefined) {
      // The kit's idempotencyField (sender \0 key) as two columns, unique per room (mmb_messages_idem), in this transaction.
      const earlier = this.#rows(
        'SELECT * FROM mmb_messages WHERE room = ? AND sender = ? AND idem = ?',
        room,
        draft.sender,
        draft.idempotencyKey,
      )[0];
      if (earlier) return { message: this.#toMessage(room, earlier), duplicate: true };
    }
    const id = head.lastId + 1;
    // Only a reply reads its parent and the sender's membership: the usual append stays one statement.
    const thread =
      draft.inReplyTo === undefined
        ? id
        : replyThread(
            NAME,
            room,
            id,
            draft.inReplyTo,
            this.#parent(room, head, draft.inReplyTo),
            this.#viewer(room, draft.sender) as Viewer,
          );
    let recipientsJson: string | null = null;
    let epoch: number | null = null;
    let excluded: string | null = null;
    if (draft.audience === 'list') {
      const members = this.getMembers(room);
      const recipients = draft.recipients.filter((r) => members.some((m) => m.id === r));
      // The delivery rows come from this list (the mmb_message_deliveries trigger).
      recipientsJson = JSON.stringify(recipients);
    } else {
      epoch = this.#currentEpoch(room, head);
      // The sender's own run is kept by the mmb_message_own_run trigger.
      excluded = draft.audience === 'members' ? null : draft.sender;
      head = { ...head, epoch, epochValid: true };
    }
    const reply = draft.inReplyTo === undefined ? null : { in_reply_to: draft.inReplyTo, thread };
    // Read before the INSERT when this isolate has no counts yet: they must not hold the new message twice.
    const tail = this.#tail(room, head);
    this.#sql.exec(
      `INSERT INTO mmb_messages (room, id, timestamp, sender, content, recipients, audience, excluded, policy, requested, idem,
         in_reply_to, thread, metadata, stream_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      room,
      id,
      draft.timestamp,
      draft.sender,
      draft.contentJson,
      recipientsJson,
      epoch,
      excluded,
      draft.routing.policy,
      draft.routing.requested === null ? null : JSON.stringify(draft.routing.requested),
      draft.idempotencyKey ?? null,
      reply?.in_reply_to ?? null,
      reply?.thread ?? null,
      draft.metadataJson ?? null,
      draft.streamId ?? null,
    );
    let oldestId = head.oldestId;
    let settledId = head.settledId;
    const trims = this.#trims(head);
    if (trims) oldestId = id - (this.#maxMessages as number) + 1;
    countInTail(tail, draft.sender, draft.timestamp);
    // Every SETTLE_EVERY appends, and before retention deletes a message the stats have not counted yet.
    if (this.#settles(head) || (trims && oldestId > settledId + 1)) {
      settle(this.#sql, room, tail, id);
      tail.clear();
      settledId = id;
    }
    if (trims) {
      trimOwnRuns(this.#sql, room, oldestId);
      this.#sql.exec('DELETE FROM mmb_messages WHERE room = ? AND id < ?', room, oldestId);
      // Delivery rows below oldestId are never read (fetch starts at oldestId); sweep them in batches.
      if (oldestId % 256 === 0) this.#sql.exec('DELETE FROM mmb_deliveries WHERE room = ? AND id < ?', room, oldestId);
      this.#sql.exec('UPDATE mmb_rooms SET oldest_id = ? WHERE room = ?', oldestId, room);
    }
    const message = this.#toMessage(room, {
      id,
      timestamp: draft.timestamp,
      sender: draft.sender,
      content: draft.contentJson,
      recipients: recipientsJson,
      audience: epoch,
      excluded,
      policy: draft.routing.policy,
      requested: draft.routing.requested === null ? null : JSON.stringify(draft.routing.requested),
      idem: draft.idempotencyKey ?? null,
      in_reply_to: reply?.in_reply_to ?? null,
      thread: reply?.thread ?? null,
      metadata: draft.metadataJson ?? null,
      stream_id: draft.streamId ?? null,
    });
    return { message, duplicate: false, head: { ...head, lastId: id, oldestId, settledId } };
  }

  /** Whether appending to the room now is the INSERT alone: the room exists, the epoch stands, nothing to trim or settle. */
  #isOneStatement(room: string, draft: MessageDraft): boolean {
    const head = this.#head(room);
    return head !== undefined && (draft.audience === 'list' || head.epochValid) && !this.#trims(head) && !this.#settles(head);
  }

  /**
   * The counts of the messages above the settled id (settled.ts), kept as appends go; read from the tail once
   * when this isolate has none. An append that fails drops them (its count may be in), to be read again.
   */
  #tail(room: string, head: RoomHead): Map<string, TailStats> {
    let tail = this.#shared.tails.get(room);
    if (!tail) {
      tail = head.settledId < head.lastId ? tailStats(this.#sql, room, head.settledId) : new Map();
      this.#shared.tails.set(room, tail);
    }
    return tail;
  }

  /** Whether the next append settles the head and stats (settled.ts): the tail would reach SETTLE_EVERY messages. */
  #settles(head: RoomHead): boolean {
    return head.lastId + 1 - head.settledId >= SETTLE_EVERY;
  }

  /** Whether the next append goes over `maxMessages`, so the oldest message is trimmed with it. */
  #trims(head: RoomHead): boolean {
    return this.#maxMessages !== undefined && head.lastId + 1 - head.oldestId + 1 > this.#maxMessages;
  }

  /** The epoch of a broadcast now: the current one, or a new one (its members stored once) after a join or leave. */
  #currentEpoch(room: string, head: RoomHead): number {
    if (head.epochValid) return head.epoch;
    const epoch = head.epoch + 1;
    const members = this.#rows('SELECT agent FROM mmb_members WHERE room = ? ORDER BY agent', room).map((r) => r.agent as string);
    this.#sql.exec('INSERT INTO mmb_audiences (room, audience, members) VALUES (?, ?, ?)', room, epoch, JSON.stringify(members));
    for (const agent of members) {
      this.#sql.exec('INSERT INTO mmb_audience_members (room, agent, audience) VALUES (?, ?, ?)', room, agent, epoch);
    }
    this.#sql.exec('UPDATE mmb_rooms SET audience = ?, audience_valid = 1 WHERE room = ?', epoch, room);
    return epoch;
  }

  /** Highest retained id routed to the member: the last of its direct index, or a later broadcast it received. */
  #lastRoutedId(room: string, agentId: string, joinedAfter: number, oldestId: number): number {
    const direct = this.#rows('SELECT MAX(id) AS id FROM mmb_deliveries WHERE room = ? AND agent = ?', room, agentId)[0]?.id as
      | number
      | null;
    const lastDirect = direct ?? 0;
    const floor = Math.max(lastDirect, joinedAfter);
    const lastBroadcast = walkSync(lastBroadcastWalk(agentId, floor), new SqlBroadcastSource(this.#sql, room));
    return retainedOrZero(Math.max(lastDirect, lastBroadcast), oldestId);
  }

  #toMessage(room: string, row: SqlRow): StoredMessage {
    let recipients: readonly string[];
    if (row.audience === null || row.audience === undefined) {
      recipients = Object.freeze(JSON.parse(row.recipients as string) as string[]);
    } else {
      recipients = this.#epochRecipients(room, row.audience as number, (row.excluded as string | null) ?? null);
    }
    const content = JSON.parse(row.content as string) as JsonValue;
    return storedMessage(room, {
      id: row.id as number,
      timestamp: row.timestamp as number,
      sender: row.sender as string,
      content: deepFreeze(content),
      recipients,
      policy: row.policy as string,
      requested: row.requested === null ? null : (JSON.parse(row.requested as string) as string[]),
      idempotencyKey: row.idem === null || row.idem === undefined ? undefined : (row.idem as string),
      inReplyTo: (row.in_reply_to as number | null) ?? undefined,
      thread: (row.thread as number | null) ?? undefined,
      metadata: typeof row.metadata === 'string' ? deepFreeze(JSON.parse(row.metadata) as MessageMetadata) : undefined,
      streamId: typeof row.stream_id === 'string' ? row.stream_id : undefined,
    });
  }

  /** The rows of `ids` (ascending) as messages. One JSON parameter for the ids: a query takes few bound parameters. */
  #messages(room: string, ids: readonly number[]): StoredMessage[] {
    if (ids.length === 0) return [];
    return this.#rows(
      'SELECT * FROM mmb_messages WHERE room = ? AND id IN (SELECT value FROM json_each(?)) ORDER BY id',
      room,
      JSON.stringify(ids),
    ).map((row) => this.#toMessage(room, row));
  }

  /** The member as the kit's conversation rules see it, or `undefined` for a non-member. */
  #viewer(room: string, agentId: string): Viewer | undefined {
    const [row] = this.#rows('SELECT joined_after FROM mmb_members WHERE room = ? AND agent = ?', room, agentId);
    return row && { id: agentId, joinedAfter: row.joined_after as number };
  }

  /** The retained message `inReplyTo` names, if any (the kit's `replyThread` judges it). */
  #parent(room: string, head: RoomHead, inReplyTo: number | undefined): StoredMessage | undefined {
    if (inReplyTo === undefined || inReplyTo < head.oldestId || inReplyTo > head.lastId) return undefined;
    const [row] = this.#rows('SELECT * FROM mmb_messages WHERE room = ? AND id = ?', room, inReplyTo);
    return row && this.#toMessage(room, row);
  }

  /** Recipients of a broadcast: its epoch's members (the `audience` row), or all but the excluded sender, shared between messages. */
  #epochRecipients(room: string, epoch: number, excluded: string | null): readonly string[] {
    const cached = this.#shared.epochs.recipients(room, epoch, excluded);
    if (cached) return cached;
    const row = this.#rows('SELECT members FROM mmb_audiences WHERE room = ? AND audience = ?', room, epoch)[0];
    const all = row ? (JSON.parse(row.members as string) as string[]) : [];
    return this.#shared.epochs.put(room, epoch, all).recipients(excluded);
  }

  #head(room: string): RoomHead | undefined {
    const cached = this.#shared.heads.get(room);
    if (cached) return cached;
    const row = this.#rows(HEAD_QUERY, room)[0];
    if (!row) return undefined;
    const settledId = row.last_id as number;
    const head: RoomHead = {
      lastId: Math.max(settledId, (row.max_id as number | null) ?? 0),
      settledId,
      oldestId: row.oldest_id as number,
      epoch: row.audience as number,
      epochValid: row.audience_valid === 1,
    };
    this.#shared.heads.set(room, head);
    return head;
  }

  #ensureRoom(room: string): RoomHead {
    const head = this.#head(room);
    if (head) return head;
    this.#sql.exec('INSERT INTO mmb_rooms (room, last_id, oldest_id, audience, audience_valid) VALUES (?, 0, 1, 0, 0)', room);
    return { lastId: 0, oldestId: 1, epoch: 0, epochValid: false, settledId: 0 };
  }

  #rows(query: string, ...bindings: unknown[]): SqlRow[] {
    return this.#sql.exec(query, ...bindings).toArray();
  }

  #transaction<T>(closure: () => T): T {
    // Without transactionSync (a bare SqlStorage) the calls still cannot interleave: each method is synchronous SQL.
    return this.#storage.transactionSync ? this.#storage.transactionSync(closure) : closure();
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError(NAME);
  }
}

interface RoomHead {
  /** The room's last id: the highest stored message id (or the settled id when none is stored). */
  lastId: number;
  /** `mmb_rooms.last_id`: the members' stored stats count the messages up to it (settled.ts). */
  settledId: number;
  oldestId: number;
  /** Number of the latest epoch (the `audience` column; 0: none yet). */
  epoch: number;
  /** `false` after a join or leave: the next broadcast starts a new epoch. */
  epochValid: boolean;
}

/** State shared by every backend instance over one `ctx.storage` (one isolate owns a Durable Object's storage). */
interface SharedState {
  watchers: Map<string, Set<(message: StoredMessage) => void>>;
  members: Map<string, readonly MemberRecord[]>;
  /** Epoch (audience) member lists and their "everyone but the sender" lists: the kit's one bounded cache. */
  epochs: EpochCache;
  /** Room heads (ids, epoch) as committed: only this isolate writes the object's database. */
  heads: Map<string, RoomHead>;
  /** Per room, the stats of the messages above its settled id, by agent (settled.ts). */
  tails: Map<string, Map<string, TailStats>>;
}

const SHARED = new WeakMap<object, SharedState>();

function recordOfRow(row: SqlRow): MemberRecord {
  return {
    id: row.agent as string,
    online: row.online === 1,
    groups: JSON.parse(row.group_names as string) as string[],
    joinedAfter: row.joined_after as number,
  };
}
