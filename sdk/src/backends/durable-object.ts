import { MessageBusError } from '../core/errors.js';
import type {
  AppendResult,
  JsonValue,
  MemberRecord,
  MemberState,
  MemberUpdate,
  MessageDraft,
  RoomSnapshot,
  StorageBackend,
  StoredMessage,
} from '../core/types.js';
import { deepFreeze } from '../core/validate.js';
import { SCHEMA, type SqlRow, type SqlStorageLike } from './durable-object-schema.js';
import { cursorExpired, unknownAgent } from './shared.js';

export type { SqlCursorLike, SqlStorageLike } from './durable-object-schema.js';

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
 * with `new_sqlite_classes`). Every call is synchronous SQL under the hood and
 * `append` runs in `transactionSync`, so id assignment, the idempotency check,
 * the message row and its delivery index commit together.
 *
 * Broadcasts are stored once: the room's membership is snapshotted as an
 * "audience" row the first time a broadcast follows a join or leave, and each
 * broadcast row points at it. Fetch walks two indexes (per-recipient rows for
 * direct and subgroup messages, per-audience id ranges for broadcasts): O(log n + k).
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
    const { maxMessages } = options;
    if (maxMessages !== undefined && (!Number.isInteger(maxMessages) || maxMessages < 1)) {
      throw new MessageBusError('INVALID_ARGUMENT', `[${NAME}] maxMessages must be a positive integer; got ${maxMessages}`);
    }
    this.#storage = storage;
    this.#sql = storage.sql;
    this.#maxMessages = maxMessages;
    let shared = SHARED.get(storage);
    if (!shared) {
      storage.sql.exec(SCHEMA);
      shared = { watchers: new Map(), members: new Map(), audiences: new Map(), heads: new Map() };
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
        this.#rows('SELECT agent, online, group_names, joined_after FROM mmb_members WHERE room = ? ORDER BY agent', room).map(toRecord),
      );
      this.#shared.members.set(room, members);
    }
    return members;
  }

  async getRoom(room: string): Promise<RoomSnapshot> {
    this.#assertOpen();
    const head = this.#head(room);
    if (!head) return { room, lastId: 0, oldestId: 1, members: [] };
    const members: MemberState[] = this.#rows('SELECT * FROM mmb_members WHERE room = ? ORDER BY agent', room).map((row) => ({
      ...toRecord(row),
      cursor: row.acked as number,
      lastRoutedId: this.#lastRoutedId(room, row.agent as string, head.oldestId),
      sentCount: row.sent_count as number,
      lastSentAt: (row.last_sent_at as number | null) ?? null,
    }));
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
        // The next broadcast needs a new audience that includes this member.
        this.#sql.exec('UPDATE mmb_rooms SET audience_valid = 0 WHERE room = ?', room);
        this.#shared.members.delete(room);
        this.#shared.heads.delete(room);
        return { id: update.id, online: update.online, groups: [...groups], joinedAfter: head.lastId };
      }
      const record = toRecord(existing);
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
      result = this.#transaction(() => this.#appendSync(room, draft));
    } catch (error) {
      this.#shared.heads.delete(room);
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
    const from = after ?? (member.acked as number);
    const joinedAfter = member.joined_after as number;
    if (Math.max(from, joinedAfter) + 1 < head.oldestId) throw cursorExpired(NAME, room, from, head.oldestId);
    const start = Math.max(from, head.oldestId - 1, joinedAfter);
    // Both index walks are in id order (audience numbers grow with ids), so each stops after `limit` rows.
    const rows = this.#rows(
      `WITH ids(id) AS (
         SELECT id FROM (SELECT id FROM mmb_deliveries WHERE room = ?1 AND agent = ?2 AND id > ?3 ORDER BY id LIMIT ?4)
         UNION
         SELECT id FROM (
           SELECT id FROM mmb_messages
           WHERE room = ?1 AND audience IN (SELECT audience FROM mmb_audience_members WHERE room = ?1 AND agent = ?2)
             AND id > ?3 AND excluded IS NOT ?2
           ORDER BY audience, id LIMIT ?4)
       )
       SELECT m.* FROM ids JOIN mmb_messages m ON m.room = ?1 AND m.id = ids.id ORDER BY m.id LIMIT ?4`,
      room,
      agentId,
      start,
      limit,
    );
    return rows.map((row) => this.#toMessage(room, row));
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
      const earlier = this.#rows(
        'SELECT * FROM mmb_messages WHERE room = ? AND sender = ? AND idem = ?',
        room,
        draft.sender,
        draft.idempotencyKey,
      )[0];
      if (earlier) return { message: this.#toMessage(room, earlier), duplicate: true };
    }
    const id = head.lastId + 1;
    let recipientsJson: string | null = null;
    let audience: number | null = null;
    let excluded: string | null = null;
    if (draft.audience === 'list') {
      const members = this.getMembers(room);
      const recipients = draft.recipients.filter((r) => members.some((m) => m.id === r));
      recipientsJson = JSON.stringify(recipients);
      for (const recipient of recipients)
        this.#sql.exec('INSERT INTO mmb_deliveries (room, agent, id) VALUES (?, ?, ?)', room, recipient, id);
    } else {
      audience = this.#currentAudience(room, head);
      head = { ...head, audience, audienceValid: true };
      excluded = draft.audience === 'members' ? null : draft.sender;
    }
    this.#sql.exec(
      `INSERT INTO mmb_messages (room, id, timestamp, sender, content, recipients, audience, excluded, policy, requested, idem)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      room,
      id,
      draft.timestamp,
      draft.sender,
      draft.contentJson,
      recipientsJson,
      audience,
      excluded,
      draft.routing.policy,
      draft.routing.requested === null ? null : JSON.stringify(draft.routing.requested),
      draft.idempotencyKey ?? null,
    );
    this.#sql.exec(
      'UPDATE mmb_members SET sent_count = sent_count + 1, last_sent_at = ? WHERE room = ? AND agent = ?',
      draft.timestamp,
      room,
      draft.sender,
    );
    let oldestId = head.oldestId;
    if (this.#maxMessages !== undefined && id - oldestId + 1 > this.#maxMessages) {
      oldestId = id - this.#maxMessages + 1;
      this.#sql.exec('DELETE FROM mmb_messages WHERE room = ? AND id < ?', room, oldestId);
      // Delivery rows below oldestId are never read (fetch starts at oldestId); sweep them in batches.
      if (oldestId % 256 === 0) this.#sql.exec('DELETE FROM mmb_deliveries WHERE room = ? AND id < ?', room, oldestId);
    }
    this.#sql.exec('UPDATE mmb_rooms SET last_id = ?, oldest_id = ? WHERE room = ?', id, oldestId, room);
    const message = this.#toMessage(room, {
      id,
      timestamp: draft.timestamp,
      sender: draft.sender,
      content: draft.contentJson,
      recipients: recipientsJson,
      audience,
      excluded,
      policy: draft.routing.policy,
      requested: draft.routing.requested === null ? null : JSON.stringify(draft.routing.requested),
      idem: draft.idempotencyKey ?? null,
    });
    return { message, duplicate: false, head: { ...head, lastId: id, oldestId } };
  }

  /** The audience number for a broadcast now: the current one, or a new snapshot after a join or leave. */
  #currentAudience(room: string, head: RoomHead): number {
    if (head.audienceValid) return head.audience;
    const audience = head.audience + 1;
    const members = this.#rows('SELECT agent FROM mmb_members WHERE room = ? ORDER BY agent', room).map((r) => r.agent as string);
    this.#sql.exec('INSERT INTO mmb_audiences (room, audience, members) VALUES (?, ?, ?)', room, audience, JSON.stringify(members));
    for (const agent of members) {
      this.#sql.exec('INSERT INTO mmb_audience_members (room, agent, audience) VALUES (?, ?, ?)', room, agent, audience);
    }
    this.#sql.exec('UPDATE mmb_rooms SET audience = ?, audience_valid = 1 WHERE room = ?', audience, room);
    return audience;
  }

  #lastRoutedId(room: string, agentId: string, oldestId: number): number {
    const direct = this.#rows('SELECT MAX(id) AS id FROM mmb_deliveries WHERE room = ? AND agent = ?', room, agentId)[0]?.id as
      | number
      | null;
    const broadcast = this.#rows(
      `SELECT id FROM mmb_messages
       WHERE room = ?1 AND audience IN (SELECT audience FROM mmb_audience_members WHERE room = ?1 AND agent = ?2) AND excluded IS NOT ?2
       ORDER BY audience DESC, id DESC LIMIT 1`,
      room,
      agentId,
    )[0]?.id as number | undefined;
    const last = Math.max(direct ?? 0, broadcast ?? 0);
    return last >= oldestId ? last : 0;
  }

  #toMessage(room: string, row: SqlRow): StoredMessage {
    let recipients: readonly string[];
    if (row.audience === null || row.audience === undefined) {
      recipients = Object.freeze(JSON.parse(row.recipients as string) as string[]);
    } else {
      recipients = this.#audienceRecipients(room, row.audience as number, (row.excluded as string | null) ?? null);
    }
    const requested = row.requested === null ? null : Object.freeze(JSON.parse(row.requested as string) as string[]);
    const content = JSON.parse(row.content as string) as JsonValue;
    return Object.freeze({
      id: row.id as number,
      room,
      timestamp: row.timestamp as number,
      sender: row.sender as string,
      content: typeof content === 'object' && content !== null ? deepFreeze(content) : content,
      recipients,
      routing: Object.freeze({ policy: row.policy as string, requested }),
      ...(row.idem === null || row.idem === undefined ? {} : { idempotencyKey: row.idem as string }),
    }) as StoredMessage;
  }

  /** Recipients of a broadcast, shared between messages of one audience (and sender, when excluded). */
  #audienceRecipients(room: string, audience: number, excluded: string | null): readonly string[] {
    const key = `${room}\u0000${audience}\u0000${excluded ?? ''}`;
    let list = this.#shared.audiences.get(key);
    if (!list) {
      const row = this.#rows('SELECT members FROM mmb_audiences WHERE room = ? AND audience = ?', room, audience)[0];
      const all = row ? (JSON.parse(row.members as string) as string[]) : [];
      list = Object.freeze(excluded === null ? all : all.filter((id) => id !== excluded));
      if (this.#shared.audiences.size > 10_000) this.#shared.audiences.clear();
      this.#shared.audiences.set(key, list);
    }
    return list;
  }

  #head(room: string): RoomHead | undefined {
    const cached = this.#shared.heads.get(room);
    if (cached) return cached;
    const row = this.#rows('SELECT last_id, oldest_id, audience, audience_valid FROM mmb_rooms WHERE room = ?', room)[0];
    if (!row) return undefined;
    const head: RoomHead = {
      lastId: row.last_id as number,
      oldestId: row.oldest_id as number,
      audience: row.audience as number,
      audienceValid: row.audience_valid === 1,
    };
    this.#shared.heads.set(room, head);
    return head;
  }

  #ensureRoom(room: string): RoomHead {
    const head = this.#head(room);
    if (head) return head;
    this.#sql.exec('INSERT INTO mmb_rooms (room, last_id, oldest_id, audience, audience_valid) VALUES (?, 0, 1, 0, 0)', room);
    return { lastId: 0, oldestId: 1, audience: 0, audienceValid: false };
  }

  #rows(query: string, ...bindings: unknown[]): SqlRow[] {
    return this.#sql.exec(query, ...bindings).toArray();
  }

  #transaction<T>(closure: () => T): T {
    // Without transactionSync (a bare SqlStorage) the calls still cannot interleave: each method is synchronous SQL.
    return this.#storage.transactionSync ? this.#storage.transactionSync(closure) : closure();
  }

  #assertOpen(): void {
    if (this.#closed) throw new MessageBusError('CLOSED', `[${NAME}] the storage backend is closed`);
  }
}

interface RoomHead {
  lastId: number;
  oldestId: number;
  /** Number of the latest audience snapshot (0: none yet). */
  audience: number;
  /** `false` after a join or leave: the next broadcast snapshots a new audience. */
  audienceValid: boolean;
}

/** State shared by every backend instance over one `ctx.storage` (one isolate owns a Durable Object's storage). */
interface SharedState {
  watchers: Map<string, Set<(message: StoredMessage) => void>>;
  members: Map<string, readonly MemberRecord[]>;
  audiences: Map<string, readonly string[]>;
  /** Room heads (ids, audience) as committed: only this isolate writes the object's database. */
  heads: Map<string, RoomHead>;
}

const SHARED = new WeakMap<object, SharedState>();

function toRecord(row: SqlRow): MemberRecord {
  return {
    id: row.agent as string,
    online: row.online === 1,
    groups: JSON.parse(row.group_names as string) as string[],
    joinedAfter: row.joined_after as number,
  };
}
