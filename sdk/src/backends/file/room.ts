/**
 * One room of `FileStorageBackend`: its lock, its files (files.ts), its
 * journal (journal.ts) and the in-memory state rebuilt from them: members,
 * epochs, idempotency keys and the storage kit's `DeliveryIndex`. All file I/O
 * is synchronous, so every method runs to completion on the event loop before
 * another starts: that is what makes append atomic within the process. Only
 * waiting for fsync is asynchronous, and concurrent appends share one fsync.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { asStorageFailure, MessageBusError } from '../../core/errors.js';
import type { AppendResult, MemberRecord, MemberUpdate, MessageDraft, RoomSnapshot, StoredMessage } from '../../core/types.js';
import {
  byId,
  DeliveryIndex,
  draftIdempotencyField,
  type Epoch,
  EpochCache,
  fetchStart,
  idempotencyField,
  messageFromDraft,
  newMember,
  parseContent,
  retainedOrZero,
  type StoredMember,
  toRecord,
  toState,
  unknownAgent,
} from '../kit/index.js';
import { compactFiles, epochInIndex, worthCompacting } from './compaction.js';
import { type FsyncMode, fsyncDir, NAME, RoomFiles } from './files.js';
import { encodePayload, type IndexEntry, KIND_EXCEPT_SENDER, KIND_LIST, KIND_MEMBERS, type MetaRecord } from './format.js';
import { type IndexedRoom, loadIndex, ShorterIndex } from './index-loader.js';
import { checkFormat, journal, META_COMPACT_LINES, openJournal, writeSnapshot } from './journal.js';
import { RoomLock } from './lock.js';
import { MessageReader } from './reader.js';
import { RecentMessages } from './recent-messages.js';

export type { FsyncMode } from './files.js';

export interface RoomOptions {
  fsync: FsyncMode;
  batchIntervalMs: number;
  maxMessages: number | undefined;
}

export class RoomStore implements IndexedRoom {
  readonly room: string;
  readonly dir: string;
  readonly watchers = new Set<(message: StoredMessage) => void>();
  /** Backends sharing this store in this process. */
  refs = 0;
  readonly agents: string[] = [];
  readonly #lock: RoomLock;
  readonly #files: RoomFiles;
  #oldestId = 1;
  /** `oldestId` as the journal's snapshot records it. */
  #savedOldestId = 1;
  #lastId = 0;
  /** The send counters in the snapshot include every id up to this one: replaying the index must not count them again. */
  #countedUpTo = 0;
  readonly #members = new Map<string, StoredMember>();
  #membersCache: readonly MemberRecord[] | undefined;
  readonly #agentNumbers = new Map<string, number>();
  readonly #epochCache = new EpochCache();
  #epochs = new Map<number, Epoch>();
  #currentEpoch: number | undefined;
  #nextEpoch = 1;
  readonly #index = new DeliveryIndex();
  /** `idempotencyField(sender, key)` → id, and back, for retained messages. */
  readonly #idempotency = new Map<string, number>();
  readonly #fieldById = new Map<number, string>();
  readonly #recent = new RecentMessages();
  readonly #reader: MessageReader;
  #batchTimer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  private constructor(room: string, dir: string, lock: RoomLock, fsync: FsyncMode) {
    this.room = room;
    this.dir = dir;
    this.#lock = lock;
    this.#files = new RoomFiles(room, dir, fsync);
    this.#reader = new MessageReader(this.#files, this.#recent, (epoch) => this.#epochs.get(epoch));
  }

  /** Opens (creating it if needed) the room under `base`: takes the lock, replays the journal, loads the index, repairs a torn tail. */
  static open(base: string, room: string, options: RoomOptions): RoomStore {
    const dir = roomDir(base, room);
    // A new directory entry survives a power loss only once its parent is fsynced.
    if (fs.mkdirSync(dir, { recursive: true }) !== undefined) fsyncDir(base);
    const lock = RoomLock.acquire(dir, `room "${room}"`);
    let store: RoomStore;
    for (let limit = Number.POSITIVE_INFINITY; ; ) {
      store = new RoomStore(room, dir, lock, options.fsync);
      try {
        store.#load(limit);
        break;
      } catch (error) {
        store.#files.closeFds();
        if (error instanceof ShorterIndex) {
          limit = error.count;
          continue;
        }
        lock.release();
        throw asStorageFailure(NAME, `opening room "${room}" in ${dir}`, error);
      }
    }
    if (options.maxMessages !== undefined) store.#retain(options.maxMessages);
    if (options.fsync === 'batch') {
      store.#batchTimer = setInterval(() => void store.#files.flush().catch(() => {}), options.batchIntervalMs);
      store.#batchTimer.unref?.();
    }
    return store;
  }

  getMembers(): readonly MemberRecord[] {
    this.#assertUsable();
    this.#membersCache ??= Object.freeze([...this.#members.values()].map(toRecord).sort(byId));
    return this.#membersCache;
  }

  getRoom(): RoomSnapshot {
    this.#assertUsable();
    const members = [...this.#members.values()]
      .sort(byId)
      .map((m) => toState(m, retainedOrZero(this.#index.lastRoutedId(m.id, m.joinedAfter), this.#oldestId)));
    return { room: this.room, lastId: this.#lastId, oldestId: this.#oldestId, members };
  }

  async putMember(update: MemberUpdate): Promise<MemberRecord> {
    this.#assertUsable();
    const existing = this.#members.get(update.id);
    let member: StoredMember;
    if (!existing) {
      const known = this.#agentNumbers.get(update.id);
      const groups = [...(update.groups ?? [])];
      this.#journal({
        t: 'put',
        id: update.id,
        on: update.online,
        g: groups,
        j: this.#lastId,
        fresh: 1,
        ...(known === undefined ? { n: this.agents.length } : {}),
      });
      if (known === undefined) this.#addAgent(update.id);
      member = this.#join(update.id, update.online, groups, this.#lastId);
    } else {
      const groups = update.groups ? [...update.groups] : existing.groups;
      this.#journal({ t: 'put', id: update.id, on: update.online, g: groups, j: existing.joinedAfter });
      existing.online = update.online;
      existing.groups = groups;
      member = existing;
    }
    this.#membersCache = undefined;
    this.#compactJournal();
    await this.#files.durable();
    return toRecord(member);
  }

  async removeMember(agentId: string): Promise<boolean> {
    this.#assertUsable();
    if (!this.#members.has(agentId)) return false;
    this.#journal({ t: 'rm', id: agentId });
    this.#leave(agentId);
    this.#compactJournal();
    await this.#files.durable();
    return true;
  }

  async ack(agentId: string, upTo: number): Promise<number> {
    this.#assertUsable();
    const member = this.#members.get(agentId);
    if (!member) throw unknownAgent(NAME, agentId, this.room);
    if (upTo > member.cursor) {
      this.#journal({ t: 'ack', id: agentId, c: upTo });
      member.cursor = upTo;
      this.#compactJournal();
      await this.#files.durable();
    }
    return member.cursor;
  }

  async append(draft: MessageDraft, maxMessages: number | undefined): Promise<AppendResult> {
    this.#assertUsable();
    const sender = this.#members.get(draft.sender);
    if (!sender) throw unknownAgent(NAME, draft.sender, this.room);
    const field = draftIdempotencyField(draft);
    if (field !== undefined) {
      const earlier = this.#idempotency.get(field);
      // The original may still be waiting for its fsync; the retry resolves after it, so it never sees an unsynced message.
      if (earlier !== undefined && earlier >= this.#oldestId) {
        const message = this.#reader.read(earlier);
        await this.#files.durable();
        return { message, duplicate: true };
      }
    }
    const id = this.#lastId + 1;
    let kind: 0 | 1 | 2;
    let epoch = 0;
    let recipients: readonly string[];
    if (draft.audience === 'list') {
      kind = KIND_LIST;
      recipients = Object.freeze(draft.recipients.filter((r) => this.#members.has(r)));
    } else {
      kind = draft.audience === 'members' ? KIND_MEMBERS : KIND_EXCEPT_SENDER;
      epoch = this.#currentEpoch ?? this.#newEpoch();
      recipients = (this.#epochs.get(epoch) as Epoch).recipients(kind === KIND_MEMBERS ? null : draft.sender);
    }
    const record = encodePayload(
      {
        id,
        t: draft.timestamp,
        s: draft.sender,
        a: kind,
        e: epoch,
        ...(kind === KIND_LIST ? { r: recipients as string[] } : {}),
        p: draft.routing.policy,
        q: draft.routing.requested,
        ...(draft.idempotencyKey === undefined ? {} : { k: draft.idempotencyKey }),
      },
      draft.contentJson,
    );
    const entry: IndexEntry = {
      id,
      offset: this.#files.logSize,
      length: record.length,
      timestamp: draft.timestamp,
      kind,
      senderNo: this.#agentNumbers.get(draft.sender) as number,
      epoch,
      recipients: kind === KIND_LIST ? recipients.map((r) => this.#agentNumbers.get(r) as number) : [],
      key: draft.idempotencyKey,
    };
    this.#files.writeMessage(record, entry);
    this.apply(entry);
    // What a reopen reads back is the JSON text: an object's content is parsed from it, so both are the same.
    const content = typeof draft.content === 'object' && draft.content !== null ? parseContent(draft.contentJson) : draft.content;
    const message = messageFromDraft(this.room, id, draft, recipients, content);
    this.#recent.remember(message);
    if (maxMessages !== undefined) this.#retain(maxMessages);
    this.#compactJournal();
    await this.#files.durable();
    for (const listener of this.watchers) listener(message);
    return { message, duplicate: false };
  }

  fetch(agentId: string, after: number | null, limit: number): StoredMessage[] {
    this.#assertUsable();
    const member = this.#members.get(agentId);
    if (!member) throw unknownAgent(NAME, agentId, this.room);
    const start = fetchStart(NAME, this.room, after, member, this.#oldestId);
    return this.#index.routedIds(agentId, start, limit).map((id) => this.#reader.read(id));
  }

  history(after: number, limit: number): StoredMessage[] {
    this.#assertUsable();
    const first = Math.max(after + 1, this.#oldestId);
    return this.#reader.range(first, Math.min(this.#lastId, first + limit - 1));
  }

  /** Makes everything written durable and releases the files and the lock. Synchronous, so a reopen right after finds the lock free. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#batchTimer);
    this.watchers.clear();
    try {
      try {
        // Record how far retention has trimmed, so a reopen without `maxMessages` does not bring trimmed ids back.
        if (!this.#files.failed && this.#oldestId > this.#savedOldestId) this.#writeSnapshot(this.#files.generation);
      } finally {
        this.#files.close();
      }
    } finally {
      this.#lock.release();
    }
  }

  // --- IndexedRoom: what loading the index applies ---

  agentNumber(id: string): number | undefined {
    return this.#agentNumbers.get(id);
  }

  hasEpoch(epoch: number): boolean {
    return this.#epochs.has(epoch);
  }

  /** Adds one stored message to the in-memory state: delivery index, idempotency key, sender counters. */
  apply(entry: IndexEntry): void {
    const id = entry.id;
    this.#lastId = id;
    const sender = this.agents[entry.senderNo] as string;
    if (entry.kind === KIND_LIST) {
      for (const no of entry.recipients) this.#index.deliver(id, this.agents[no] as string);
    } else {
      this.#index.addBroadcast(id, entry.kind === KIND_EXCEPT_SENDER ? sender : null);
    }
    if (entry.key !== undefined) {
      const field = idempotencyField(sender, entry.key);
      this.#idempotency.set(field, id);
      this.#fieldById.set(id, field);
    }
    const member = this.#members.get(sender);
    if (member && id > Math.max(member.joinedAfter, this.#countedUpTo)) {
      member.sentCount++;
      member.lastSentAt = entry.timestamp;
    }
  }

  // --- internal helpers ---

  #assertUsable(): void {
    if (this.#files.failed) throw this.#files.failed;
    if (this.#closed) throw new MessageBusError('CLOSED', `[${NAME}] room "${this.room}" is closed`);
  }

  /** Loads the room: the journal first (members, epochs, where the files start), then the index. */
  #load(limit: number): void {
    openJournal(this.#files, (record, line) => this.#replay(record, line));
    this.#files.openData();
    loadIndex(this.#files, this, limit);
    this.#oldestId = Math.max(this.#oldestId, this.#files.firstId);
    this.#lastId = this.#files.firstId + this.#files.logOffsets.length - 1;
  }

  /** Applies one journal line at load. Returns false for a line that cannot be right (the rest is cut). */
  #replay(record: MetaRecord, line: number): boolean {
    switch (record?.t) {
      case 'format':
        if (line !== 0) return false;
        checkFormat(record, this.room, this.dir);
        return true;
      case 'snap':
        this.#files.generation = record.gen;
        this.#files.firstId = record.floor;
        this.#oldestId = Math.max(record.floor, record.oldest ?? record.floor);
        this.#savedOldestId = this.#oldestId;
        this.#countedUpTo = record.asOf;
        this.#lastId = record.floor - 1;
        for (const agent of record.agents) this.#addAgent(agent);
        for (const m of record.members) {
          const member = this.#join(m.id, m.on, m.g, m.j);
          member.cursor = m.c;
          member.sentCount = m.sent;
          member.lastSentAt = m.last;
        }
        for (const [e, ids] of record.epochs) this.#epochs.set(e, this.#epochCache.put(this.room, e, ids));
        this.#nextEpoch = record.nextEpoch;
        this.#currentEpoch = undefined;
        return true;
      case 'put': {
        if (record.n !== undefined) {
          if (record.n !== this.agents.length) return false;
          this.#addAgent(record.id);
        } else if (!this.#agentNumbers.has(record.id)) return false;
        const member = this.#members.get(record.id);
        if (record.fresh || !member) this.#join(record.id, record.on, record.g, record.j);
        else {
          member.online = record.on;
          member.groups = record.g;
        }
        return true;
      }
      case 'rm':
        this.#leave(record.id);
        return true;
      case 'ack': {
        const member = this.#members.get(record.id);
        if (member) member.cursor = Math.max(member.cursor, record.c);
        return true;
      }
      case 'epoch':
        this.#epochs.set(record.e, this.#epochCache.put(this.room, record.e, record.m));
        this.#currentEpoch = record.e;
        this.#nextEpoch = record.e + 1;
        return true;
      default:
        return false;
    }
  }

  #addAgent(id: string): void {
    this.#agentNumbers.set(id, this.agents.length);
    this.agents.push(id);
  }

  #join(id: string, online: boolean, groups: string[], joinedAfter: number): StoredMember {
    const member = newMember({ id, online, groups }, joinedAfter);
    this.#members.set(id, member);
    this.#index.join(id, joinedAfter);
    this.#currentEpoch = undefined;
    this.#membersCache = undefined;
    return member;
  }

  #leave(id: string): void {
    if (!this.#members.delete(id)) return;
    this.#index.leave(id);
    this.#currentEpoch = undefined;
    this.#membersCache = undefined;
  }

  #newEpoch(): number {
    const e = this.#nextEpoch;
    const ids = [...this.#members.keys()].sort();
    this.#journal({ t: 'epoch', e, m: ids });
    this.#epochs.set(e, this.#epochCache.put(this.room, e, ids));
    this.#currentEpoch = e;
    this.#nextEpoch = e + 1;
    return e;
  }

  #journal(record: MetaRecord): void {
    journal(this.#files, record);
  }

  /** Rewrites a long journal as one snapshot; called when an operation's writes are complete. */
  #compactJournal(): void {
    if (this.#files.metaLines > META_COMPACT_LINES) this.#writeSnapshot(this.#files.generation);
  }

  /** Replaces `meta.jsonl` with one snapshot naming generation `generation`. */
  #writeSnapshot(generation: number): void {
    writeSnapshot(this.#files, {
      t: 'snap',
      gen: generation,
      floor: this.#files.firstId,
      oldest: this.#oldestId,
      asOf: this.#lastId,
      agents: this.agents,
      members: [...this.#members.values()].map((m) => ({
        id: m.id,
        on: m.online,
        g: m.groups,
        j: m.joinedAfter,
        c: m.cursor,
        sent: m.sentCount,
        last: m.lastSentAt,
      })),
      epochs: [...this.#epochs].map(([e, epoch]) => [e, [...epoch.all]]),
      nextEpoch: this.#nextEpoch,
    });
    this.#countedUpTo = this.#lastId;
    this.#savedOldestId = this.#oldestId;
    // A snapshot does not name the current epoch: the next broadcast starts a new one.
    this.#currentEpoch = undefined;
  }

  /** Logical retention: drops the oldest ids beyond `max`; the files are compacted once the dead prefix is large. */
  #retain(max: number): void {
    const excess = this.#lastId - this.#oldestId + 1 - max;
    if (excess <= 0) return;
    for (let id = this.#oldestId; id < this.#oldestId + excess; id++) {
      const field = this.#fieldById.get(id);
      if (field !== undefined) {
        this.#fieldById.delete(id);
        if (this.#idempotency.get(field) === id) this.#idempotency.delete(field);
      }
      this.#recent.forget(id);
    }
    this.#oldestId += excess;
    if (worthCompacting(this.#files, this.#oldestId, this.#lastId)) this.#compact();
  }

  #compact(): void {
    const firstId = this.#oldestId;
    // Epochs only grow with ids: every retained broadcast uses the epoch of the first one or a later one.
    const [first] = this.#index.broadcasts('', firstId - 1, Number.POSITIVE_INFINITY, 1);
    const keepFrom = first === undefined ? Number.POSITIVE_INFINITY : epochInIndex(this.#files, first.id);
    compactFiles(this.#files, firstId, (generation) => {
      const keep = new Map<number, Epoch>();
      for (const [e, epoch] of this.#epochs) if (e >= keepFrom || e === this.#currentEpoch) keep.set(e, epoch);
      this.#epochs = keep;
      this.#writeSnapshot(generation);
    });
    this.#index.dropBelow(firstId);
  }
}

/** The directory of `room` under `base`. The `r-` prefix keeps ids like `.` and `..` from naming anything else. */
export function roomDir(base: string, room: string): string {
  return path.join(base, `r-${room}`);
}
