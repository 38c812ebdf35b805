/**
 * One room of `FileStorageBackend` on disk: its files, its lock and the
 * in-memory index built from them (see file-format.ts for the bytes). All file
 * I/O is synchronous, so every method runs to completion on the event loop
 * before another starts: that is what makes append atomic within the process.
 * Only waiting for fsync is asynchronous, and concurrent appends share one
 * fsync (group commit).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { asStorageFailure, MessageBusError } from '../core/errors.js';
import type { AppendResult, MemberRecord, MemberState, MemberUpdate, MessageDraft, RoomSnapshot, StoredMessage } from '../core/types.js';
import { deepFreeze } from '../core/validate.js';
import {
  decodeRecord,
  encodeIndex,
  encodePayload,
  FORMAT_VERSION,
  fileHeader,
  HEADER_BYTES,
  INDEX_FIXED_BYTES,
  INDEX_MAGIC,
  type IndexEntry,
  KIND_EXCEPT_SENDER,
  KIND_LIST,
  KIND_MEMBERS,
  LOG_MAGIC,
  LOG_RECORD_HEADER,
  type LogPayload,
  type MetaRecord,
  readHeader,
} from './file-format.js';
import { RoomLock } from './file-lock.js';
import { NumberList } from './kit/number-list.js';
import { Audience, byId, cursorExpired, type StoredMember, unknownAgent } from './shared.js';

/** When `append` resolves relative to fsync. */
export type FsyncMode = 'always' | 'batch' | 'never';

export interface RoomOptions {
  fsync: FsyncMode;
  batchIntervalMs: number;
  maxMessages: number | undefined;
}

const NAME = 'file';
const fsyncAsync = promisify(fs.fsync);
/** Journal lines after which `meta.jsonl` is rewritten as one snapshot. */
const META_COMPACT_LINES = 10_000;
const CACHE_SIZE = 4096;

interface Member extends StoredMember {
  /** The agent's number in the index file (agents are numbered in the order they first joined). */
  no: number;
}

export class RoomStore {
  readonly room: string;
  readonly dir: string;
  readonly watchers = new Set<(message: StoredMessage) => void>();
  /** Backends sharing this store in this process. */
  refs = 0;
  readonly #options: RoomOptions;
  readonly #lock: RoomLock;
  #gen = 0;
  #logFd = -1;
  #indexFd = -1;
  #metaFd = -1;
  #logSize = 0;
  #indexSize = 0;
  #metaSize = 0;
  #metaLines = 0;
  /** Id of the first record in the current files; `pos`/`ipos` are indexed from it. */
  #firstId = 1;
  #oldestId = 1;
  /** `oldestId` as the journal's snapshot records it. */
  #savedOldest = 1;
  #lastId = 0;
  /** Sends up to this id are counted in the snapshot's member counters. */
  #asOf = 0;
  /** Log offset of each message's record. */
  #pos = new NumberList();
  /** Index-file offset of each message's entry. */
  #ipos = new NumberList();
  readonly #members = new Map<string, Member>();
  #membersCache: readonly MemberRecord[] | undefined;
  #agents: string[] = [];
  readonly #agentNos = new Map<string, number>();
  #epochs = new Map<number, Audience>();
  #currentEpoch: number | undefined;
  #nextEpoch = 1;
  /** Per member: ids of list-audience messages routed to it (this membership only), ascending. */
  readonly #direct = new Map<string, number[]>();
  /** Broadcasts: id, audience epoch and the excluded sender's number (-1 when the sender is included). */
  #bcIds = new NumberList();
  #bcEpochs = new NumberList();
  #bcSenders = new NumberList();
  /** Per sender number: ids of its broadcasts that exclude it, so a fetch can jump over a run of them. */
  #ownBroadcasts = new Map<number, NumberList>();
  /** `sender \0 key` → id, and back, for retained messages. */
  readonly #idempotency = new Map<string, number>();
  readonly #keyById = new Map<number, string>();
  /** Recent appends by `id % CACHE_SIZE`: what live subscribers fetch right after a send. */
  readonly #cache: (StoredMessage | undefined)[] = new Array(CACHE_SIZE);
  /** Index entries written to the log but not yet to the index file (the index is rebuilt from the log after a crash). */
  #indexPending: Buffer[] = [];
  #indexPendingBytes = 0;
  /** Bytes of the index file actually written; `#indexSize` counts the pending entries too. */
  #indexWritten = 0;
  #readBuf = Buffer.alloc(64 * 1024);
  #writes = 0;
  #synced = 0;
  #inflight: Promise<void> | undefined;
  #dirtyLog = false;
  #dirtyMeta = false;
  #dirtyIndex = false;
  #batchTimer: ReturnType<typeof setInterval> | undefined;
  #failed: MessageBusError | undefined;
  #closed = false;

  private constructor(room: string, dir: string, lock: RoomLock, options: RoomOptions) {
    this.room = room;
    this.dir = dir;
    this.#lock = lock;
    this.#options = options;
  }

  /** Opens (creating it if needed) the room under `base`: takes the lock, replays the journal, loads the index, repairs a torn tail. */
  static open(base: string, room: string, options: RoomOptions): RoomStore {
    const dir = roomDir(base, room);
    // A new directory entry survives a power loss only once its parent is fsynced.
    if (fs.mkdirSync(dir, { recursive: true }) !== undefined) fsyncDir(base);
    const lock = RoomLock.acquire(dir, `room "${room}"`);
    let store: RoomStore;
    for (let limit = Number.POSITIVE_INFINITY; ; ) {
      store = new RoomStore(room, dir, lock, options);
      try {
        store.#load(limit);
        break;
      } catch (error) {
        store.#closeFds();
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
      store.#batchTimer = setInterval(() => void store.#flush().catch(() => {}), options.batchIntervalMs);
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
    const members: MemberState[] = [...this.#members.values()].sort(byId).map((m) => ({
      ...toRecord(m),
      cursor: m.cursor,
      lastRoutedId: this.#lastRoutedId(m),
      sentCount: m.sentCount,
      lastSentAt: m.lastSentAt,
    }));
    return { room: this.room, lastId: this.#lastId, oldestId: this.#oldestId, members };
  }

  async putMember(update: MemberUpdate): Promise<MemberRecord> {
    this.#assertUsable();
    const existing = this.#members.get(update.id);
    let member: Member;
    if (!existing) {
      let no = this.#agentNos.get(update.id);
      const isNewAgent = no === undefined;
      no ??= this.#agents.length;
      const groups = [...(update.groups ?? [])];
      this.#journal({ t: 'put', id: update.id, on: update.online, g: groups, j: this.#lastId, fresh: 1, ...(isNewAgent ? { n: no } : {}) });
      if (isNewAgent) this.#addAgent(update.id);
      member = this.#join(update.id, update.online, groups, this.#lastId);
    } else {
      const groups = update.groups ? [...update.groups] : existing.groups;
      this.#journal({ t: 'put', id: update.id, on: update.online, g: groups, j: existing.joinedAfter });
      existing.online = update.online;
      existing.groups = groups;
      member = existing;
    }
    this.#membersCache = undefined;
    this.#compactMeta();
    await this.#durable();
    return toRecord(member);
  }

  async removeMember(agentId: string): Promise<boolean> {
    this.#assertUsable();
    if (!this.#members.has(agentId)) return false;
    this.#journal({ t: 'rm', id: agentId });
    this.#leave(agentId);
    this.#compactMeta();
    await this.#durable();
    return true;
  }

  async ack(agentId: string, upTo: number): Promise<number> {
    this.#assertUsable();
    const member = this.#members.get(agentId);
    if (!member) throw unknownAgent(NAME, agentId, this.room);
    if (upTo > member.cursor) {
      this.#journal({ t: 'ack', id: agentId, c: upTo });
      member.cursor = upTo;
      this.#compactMeta();
      await this.#durable();
    }
    return member.cursor;
  }

  async append(draft: MessageDraft, maxMessages: number | undefined): Promise<AppendResult> {
    this.#assertUsable();
    const sender = this.#members.get(draft.sender);
    if (!sender) throw unknownAgent(NAME, draft.sender, this.room);
    const composite = draft.idempotencyKey === undefined ? undefined : `${draft.sender}\u0000${draft.idempotencyKey}`;
    if (composite !== undefined) {
      const earlier = this.#idempotency.get(composite);
      // The original may still be waiting for its fsync; the retry resolves after it, so it never sees an unsynced message.
      if (earlier !== undefined && earlier >= this.#oldestId) {
        const message = this.#read(earlier);
        await this.#durable();
        return { message, duplicate: true };
      }
    }
    const id = this.#lastId + 1;
    let kind: number;
    let epoch = 0;
    let recipients: readonly string[];
    let recipientNos: number[] = [];
    if (draft.audience === 'list') {
      kind = KIND_LIST;
      recipients = Object.freeze(draft.recipients.filter((r) => this.#members.has(r)));
      recipientNos = recipients.map((r) => this.#agentNos.get(r) as number);
    } else {
      kind = draft.audience === 'members' ? KIND_MEMBERS : KIND_EXCEPT_SENDER;
      epoch = this.#currentEpoch ?? this.#newEpoch();
      recipients = (this.#epochs.get(epoch) as Audience).recipients(kind === KIND_MEMBERS ? null : draft.sender);
    }
    const record = encodePayload(
      {
        id,
        t: draft.timestamp,
        s: draft.sender,
        a: kind as 0 | 1 | 2,
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
      offset: this.#logSize,
      length: record.length,
      timestamp: draft.timestamp,
      kind,
      senderNo: sender.no,
      epoch,
      recipients: recipientNos,
      key: draft.idempotencyKey,
    };
    this.#writeEntry(record, entry);
    const content = typeof draft.content === 'object' && draft.content !== null ? JSON.parse(draft.contentJson) : draft.content;
    const message = storedMessage(
      this.room,
      id,
      draft.timestamp,
      draft.sender,
      content,
      recipients,
      draft.routing.policy,
      draft.routing.requested,
      draft.idempotencyKey,
    );
    this.#remember(message);
    if (maxMessages !== undefined) this.#retain(maxMessages);
    this.#compactMeta();
    await this.#durable();
    for (const listener of this.watchers) listener(message);
    return { message, duplicate: false };
  }

  fetch(agentId: string, after: number | null, limit: number): StoredMessage[] {
    this.#assertUsable();
    const member = this.#members.get(agentId);
    if (!member) throw unknownAgent(NAME, agentId, this.room);
    const from = after ?? member.cursor;
    if (Math.max(from, member.joinedAfter) + 1 < this.#oldestId) throw cursorExpired(NAME, this.room, from, this.#oldestId);
    const direct = this.#direct.get(agentId) ?? [];
    const start = Math.max(from, this.#oldestId - 1, member.joinedAfter);
    let d = firstAbove(direct, start);
    let b = this.#bcIds.firstAbove(start);
    const out: StoredMessage[] = [];
    while (out.length < limit) {
      // Skip broadcasts this agent was not part of (its own, or an audience without it).
      while (b < this.#bcIds.length && !this.#inBroadcast(b, member)) {
        b = this.#bcSenders.get(b) === member.no ? this.#pastOwn(b, member.no, 1) : b + 1;
      }
      const nextDirect = d < direct.length ? (direct[d] as number) : Number.POSITIVE_INFINITY;
      const nextBroadcast = b < this.#bcIds.length ? this.#bcIds.get(b) : Number.POSITIVE_INFINITY;
      if (nextDirect === Number.POSITIVE_INFINITY && nextBroadcast === Number.POSITIVE_INFINITY) break;
      const id = Math.min(nextDirect, nextBroadcast);
      if (id === nextDirect) d++;
      if (id === nextBroadcast) b++;
      out.push(this.#read(id));
    }
    return out;
  }

  history(after: number, limit: number): StoredMessage[] {
    this.#assertUsable();
    const first = Math.max(after + 1, this.#oldestId);
    const last = Math.min(this.#lastId, first + limit - 1);
    if (first > last) return [];
    // The ids are contiguous: one read covers them all.
    const start = this.#pos.get(first - this.#firstId);
    const buf = this.#readAt(start, this.#end(last) - start);
    const out: StoredMessage[] = [];
    let at = 0;
    for (let id = first; id <= last; id++) {
      const cached = this.#cached(id);
      const length = this.#end(id) - this.#pos.get(id - this.#firstId);
      if (cached) out.push(cached);
      else out.push(this.#toStored(this.#decode(buf, at, id)));
      at += length;
    }
    return out;
  }

  /** Makes everything written durable and releases the files and the lock. Synchronous, so a reopen right after finds the lock free. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#batchTimer);
    this.watchers.clear();
    try {
      if (!this.#failed) {
        this.#flushIndex();
        // Record how far retention has trimmed, so a reopen without `maxMessages` does not bring trimmed ids back.
        if (this.#oldestId > this.#savedOldest) this.#writeSnapshot(this.#gen);
        for (const fd of [this.#logFd, this.#indexFd, this.#metaFd]) fs.fsyncSync(fd);
      }
    } finally {
      this.#closeFds();
      this.#lock.release();
    }
  }

  // --- internal helpers ---

  #assertUsable(): void {
    if (this.#failed) throw this.#failed;
    if (this.#closed) throw new MessageBusError('CLOSED', `[${NAME}] room "${this.room}" is closed`);
  }

  /**
   * Loads the room. The index is read once and checked entry by entry as it is
   * applied (ids consecutive, offsets contiguous, agents known); the last entry
   * must also match its log record, else the load restarts with one entry
   * fewer (`ShorterIndex`): a power loss can leave an index ahead of its log.
   */
  #load(limit: number): void {
    this.#loadMeta();
    this.#openDataFiles(this.#firstId);
    const index = fs.readFileSync(this.#indexPath());
    const logSize = fs.fstatSync(this.#logFd).size;
    const firstIndexed = readHeader(index, INDEX_MAGIC);
    let at = HEADER_BYTES;
    let offset = HEADER_BYTES;
    let count = 0;
    let lastLength = 0;
    if (firstIndexed === this.#firstId) {
      const agents = this.#agents.length;
      const byNo = this.#agents.map((id) => this.#members.get(id));
      const directByNo = this.#agents.map((id) => this.#direct.get(id));
      let id = this.#firstId;
      while (count < limit && at + INDEX_FIXED_BYTES <= index.length) {
        const length = index.readUInt32LE(at + 12);
        const kind = index[at + 24] as number;
        const senderNo = index.readUInt32LE(at + 25);
        const recipients = index.readUInt16LE(at + 33);
        const keyBytes = index.readUInt16LE(at + 35);
        const size = INDEX_FIXED_BYTES + recipients * 4 + keyBytes;
        if (index.readUInt32LE(at) !== id || index.readDoubleLE(at + 4) !== offset || length <= LOG_RECORD_HEADER) break;
        if (offset + length > logSize || kind > KIND_EXCEPT_SENDER || senderNo >= agents || at + size > index.length) break;
        let valid = true;
        for (let i = 0; i < recipients; i++) if (index.readUInt32LE(at + INDEX_FIXED_BYTES + i * 4) >= agents) valid = false;
        if (!valid) break;
        this.#pos.push(offset);
        this.#ipos.push(at);
        if (kind === KIND_LIST) {
          for (let i = 0; i < recipients; i++) {
            const no = index.readUInt32LE(at + INDEX_FIXED_BYTES + i * 4);
            const member = byNo[no];
            if (member && id > member.joinedAfter) directByNo[no]?.push(id);
          }
        } else {
          this.#bcIds.push(id);
          this.#bcEpochs.push(index.readUInt32LE(at + 29));
          this.#bcSenders.push(kind === KIND_EXCEPT_SENDER ? senderNo : -1);
          if (kind === KIND_EXCEPT_SENDER) this.#ownList(senderNo).push(id);
        }
        if (keyBytes > 0) {
          const keyAt = at + INDEX_FIXED_BYTES + recipients * 4;
          const composite = `${this.#agents[senderNo]}\u0000${index.toString('utf8', keyAt, keyAt + keyBytes)}`;
          this.#idempotency.set(composite, id);
          this.#keyById.set(id, composite);
        }
        const sender = byNo[senderNo];
        if (sender && id > sender.joinedAfter && id > this.#asOf) {
          sender.sentCount++;
          sender.lastSentAt = index.readDoubleLE(at + 16);
        }
        count++;
        id++;
        at += size;
        offset += length;
        lastLength = length;
      }
    }
    if (count > 0 && !this.#recordMatches(offset - lastLength, lastLength, this.#firstId + count - 1)) throw new ShorterIndex(count - 1);
    this.#logSize = offset;
    this.#indexSize = at;
    if (firstIndexed !== this.#firstId) {
      fs.ftruncateSync(this.#indexFd, 0);
      fs.writeSync(this.#indexFd, fileHeader(INDEX_MAGIC, this.#firstId), 0, HEADER_BYTES, 0);
    }
    fs.ftruncateSync(this.#indexFd, this.#indexSize);
    this.#lastId = this.#firstId + count - 1;
    // Records in the log past the index (the process died between the two writes) are indexed again; a torn one is cut.
    this.#recoverLogTail(logSize);
    this.#oldestId = Math.max(this.#oldestId, this.#firstId);
    this.#lastId = this.#firstId + this.#pos.length - 1;
    this.#indexWritten = this.#indexSize;
  }

  #recordMatches(offset: number, length: number, id: number): boolean {
    const buf = this.#readAt(offset, length);
    return decodeRecord(buf, 0, id) !== undefined;
  }

  #recoverLogTail(logSize: number): void {
    if (logSize <= this.#logSize) return;
    const tail = this.#readAt(this.#logSize, logSize - this.#logSize, true);
    let at = 0;
    while (at < tail.length) {
      const id = this.#firstId + this.#pos.length;
      const decoded = decodeRecord(tail, at, id);
      const entry = decoded && this.#entryFromPayload(decoded.payload, this.#logSize, decoded.length);
      if (!decoded || !entry) break;
      const encoded = encodeIndex(entry);
      fs.writeSync(this.#indexFd, encoded, 0, encoded.length, this.#indexSize);
      this.#apply(entry, this.#indexSize);
      this.#indexSize += encoded.length;
      this.#logSize += decoded.length;
      at += decoded.length;
      this.#lastId = id;
    }
    if (this.#logSize < logSize) fs.ftruncateSync(this.#logFd, this.#logSize);
    fs.fsyncSync(this.#logFd);
    fs.fsyncSync(this.#indexFd);
  }

  #entryFromPayload(p: LogPayload, offset: number, length: number): IndexEntry | undefined {
    const senderNo = this.#agentNos.get(p.s);
    if (senderNo === undefined || (p.a !== KIND_LIST && !this.#epochs.has(p.e))) return undefined;
    const recipients: number[] = [];
    for (const r of p.r ?? []) {
      const no = this.#agentNos.get(r);
      if (no === undefined) return undefined;
      recipients.push(no);
    }
    return { id: p.id, offset, length, timestamp: p.t, kind: p.a, senderNo, epoch: p.e, recipients, key: p.k };
  }

  /** Adds one indexed message to the in-memory state. */
  #apply(e: IndexEntry, indexOffset: number): void {
    this.#pos.push(e.offset);
    this.#ipos.push(indexOffset);
    this.#lastId = e.id;
    if (e.kind === KIND_LIST) {
      for (const no of e.recipients) {
        const agent = this.#agents[no] as string;
        const member = this.#members.get(agent);
        if (member && e.id > member.joinedAfter) this.#direct.get(agent)?.push(e.id);
      }
    } else {
      this.#bcIds.push(e.id);
      this.#bcEpochs.push(e.epoch);
      this.#bcSenders.push(e.kind === KIND_EXCEPT_SENDER ? e.senderNo : -1);
      if (e.kind === KIND_EXCEPT_SENDER) this.#ownList(e.senderNo).push(e.id);
    }
    const sender = this.#agents[e.senderNo] as string;
    if (e.key !== undefined) {
      const composite = `${sender}\u0000${e.key}`;
      this.#idempotency.set(composite, e.id);
      this.#keyById.set(e.id, composite);
    }
    const member = this.#members.get(sender);
    if (member && e.id > Math.max(member.joinedAfter, this.#asOf)) {
      member.sentCount++;
      member.lastSentAt = e.timestamp;
    }
  }

  #loadMeta(): void {
    const file = path.join(this.dir, 'meta.jsonl');
    this.#metaFd = fs.openSync(file, fs.existsSync(file) ? 'r+' : 'w+');
    const text = fs.readFileSync(this.#metaFd);
    let at = 0;
    let lines = 0;
    while (at < text.length) {
      const newline = text.indexOf(10, at);
      if (newline < 0) break; // a torn last line
      let record: MetaRecord;
      try {
        record = JSON.parse(text.toString('utf8', at, newline)) as MetaRecord;
      } catch {
        break;
      }
      if (!this.#replay(record, lines)) break;
      lines++;
      at = newline + 1;
    }
    if (lines === 0) {
      // New (or unreadable from its first line): start the journal with its format line.
      const header = `${JSON.stringify({ t: 'format', format: 'modular-message-bus/file', version: FORMAT_VERSION })}\n`;
      if (text.length > 0 && !text.subarray(0, 2).toString().startsWith('{')) {
        throw new MessageBusError(
          'STORAGE_FAILURE',
          `[${NAME}] ${file} is not a message-bus journal; move it away or choose another directory`,
        );
      }
      fs.ftruncateSync(this.#metaFd, 0);
      fs.writeSync(this.#metaFd, header, 0);
      fs.fsyncSync(this.#metaFd);
      fsyncDir(this.dir);
      this.#metaSize = Buffer.byteLength(header);
      this.#metaLines = 1;
      return;
    }
    if (at < text.length) fs.ftruncateSync(this.#metaFd, at);
    this.#metaSize = at;
    this.#metaLines = lines;
  }

  /** Applies one journal line at load. Returns false for a line that cannot be right (the rest is cut). */
  #replay(record: MetaRecord, line: number): boolean {
    switch (record?.t) {
      case 'format':
        if (line !== 0) return false;
        if (record.version !== FORMAT_VERSION) {
          throw new MessageBusError(
            'STORAGE_FAILURE',
            `[${NAME}] room "${this.room}" in ${this.dir} uses format version ${record.version}; this library reads version ${FORMAT_VERSION}`,
          );
        }
        return true;
      case 'snap':
        this.#gen = record.gen;
        this.#firstId = record.floor;
        this.#oldestId = Math.max(record.floor, record.oldest ?? record.floor);
        this.#savedOldest = this.#oldestId;
        this.#asOf = record.asOf;
        this.#lastId = record.floor - 1;
        for (const agent of record.agents) this.#addAgent(agent);
        for (const m of record.members) {
          const member = this.#join(m.id, m.on, m.g, m.j);
          member.cursor = m.c;
          member.sentCount = m.sent;
          member.lastSentAt = m.last;
        }
        for (const [e, ids] of record.epochs) this.#epochs.set(e, new Audience(ids));
        this.#nextEpoch = record.nextEpoch;
        this.#currentEpoch = undefined;
        return true;
      case 'put': {
        if (record.n !== undefined) {
          if (record.n !== this.#agents.length) return false;
          this.#addAgent(record.id);
        } else if (!this.#agentNos.has(record.id)) return false;
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
        this.#epochs.set(record.e, new Audience(record.m));
        this.#currentEpoch = record.e;
        this.#nextEpoch = record.e + 1;
        return true;
      default:
        return false;
    }
  }

  #addAgent(id: string): void {
    this.#agentNos.set(id, this.#agents.length);
    this.#agents.push(id);
  }

  #join(id: string, online: boolean, groups: string[], joinedAfter: number): Member {
    const member: Member = {
      id,
      no: this.#agentNos.get(id) as number,
      online,
      groups,
      joinedAfter,
      cursor: 0,
      sentCount: 0,
      lastSentAt: null,
    };
    this.#members.set(id, member);
    this.#direct.set(id, []);
    this.#currentEpoch = undefined;
    this.#membersCache = undefined;
    return member;
  }

  #leave(id: string): void {
    if (!this.#members.delete(id)) return;
    this.#direct.delete(id);
    this.#currentEpoch = undefined;
    this.#membersCache = undefined;
  }

  #newEpoch(): number {
    const e = this.#nextEpoch;
    const ids = [...this.#members.keys()].sort();
    this.#journal({ t: 'epoch', e, m: ids });
    this.#epochs.set(e, new Audience(ids));
    this.#currentEpoch = e;
    this.#nextEpoch = e + 1;
    return e;
  }

  #journal(record: MetaRecord): void {
    const line = Buffer.from(`${JSON.stringify(record)}\n`, 'utf8');
    writeAll(this.#metaFd, line, this.#metaSize);
    this.#metaSize += line.length;
    this.#metaLines++;
    this.#dirtyMeta = true;
    this.#writes++;
  }

  /** Rewrites a long journal as one snapshot; called when an operation's writes are complete. */
  #compactMeta(): void {
    if (this.#metaLines > META_COMPACT_LINES) this.#writeSnapshot(this.#gen);
  }

  #indexPath(gen = this.#gen): string {
    return path.join(this.dir, `index.${gen}.bin`);
  }

  #logPath(gen = this.#gen): string {
    return path.join(this.dir, `log.${gen}.bin`);
  }

  #openDataFiles(firstId: number): void {
    const logPath = this.#logPath();
    if (!fs.existsSync(logPath)) {
      // A fresh room, or a compaction that died before its snapshot named the new generation: start this generation empty.
      writeFileSynced(logPath, [fileHeader(LOG_MAGIC, firstId)]);
      writeFileSynced(this.#indexPath(), [fileHeader(INDEX_MAGIC, firstId)]);
      fsyncDir(this.dir);
    }
    this.#logFd = fs.openSync(logPath, 'r+');
    const header = Buffer.alloc(HEADER_BYTES);
    fs.readSync(this.#logFd, header, 0, HEADER_BYTES, 0);
    const first = readHeader(header, LOG_MAGIC);
    if (typeof first === 'string' || first !== firstId) {
      throw new MessageBusError(
        'STORAGE_FAILURE',
        `[${NAME}] ${logPath} is unreadable (${typeof first === 'string' ? first : `starts at id ${first}, expected ${firstId}`}); restore the room directory from a backup`,
      );
    }
    this.#indexFd = fs.openSync(this.#indexPath(), fs.existsSync(this.#indexPath()) ? 'r+' : 'w+');
    // Files of other generations are leftovers of an interrupted compaction.
    for (const name of fs.readdirSync(this.dir)) {
      const match = /^(log|index)\.(\d+)\.bin$/.exec(name);
      if (match && Number(match[2]) !== this.#gen) fs.rmSync(path.join(this.dir, name), { force: true });
    }
  }

  #writeEntry(record: Buffer, entry: IndexEntry): void {
    const logSize = this.#logSize;
    try {
      writeAll(this.#logFd, record, logSize);
    } catch (error) {
      // Nothing half-written may stay: cut the log back.
      try {
        fs.ftruncateSync(this.#logFd, logSize);
      } catch {
        this.#failed = asStorageFailure(NAME, `writing room "${this.room}" (reopen the backend)`, error);
      }
      throw asStorageFailure(NAME, `appending to room "${this.room}"`, error);
    }
    const encoded = encodeIndex(entry);
    this.#apply(entry, this.#indexSize);
    this.#logSize += record.length;
    this.#indexSize += encoded.length;
    this.#indexPending.push(encoded);
    this.#indexPendingBytes += encoded.length;
    this.#dirtyLog = true;
    this.#writes++;
    if (this.#indexPendingBytes >= 64 * 1024) {
      try {
        this.#flushIndex();
      } catch {
        // The index is derived: a failed write here is repaired from the log on the next open.
      }
    }
  }

  async #durable(): Promise<void> {
    if (this.#options.fsync === 'always') await this.#flush();
  }

  /** Resolves when every write made before the call is fsynced; concurrent callers share one fsync. */
  async #flush(): Promise<void> {
    const target = this.#writes;
    while (this.#synced < target) {
      this.#inflight ??= this.#fsyncNow().finally(() => {
        this.#inflight = undefined;
      });
      await this.#inflight;
    }
  }

  async #fsyncNow(): Promise<void> {
    const upTo = this.#writes;
    if (this.#options.fsync !== 'always') this.#flushIndex();
    const fds: number[] = [];
    // The log before the meta journal is fine: an epoch line is written (and so synced) before the records naming it.
    if (this.#dirtyLog) fds.push(this.#logFd);
    if (this.#dirtyMeta) fds.push(this.#metaFd);
    // The index is derived from the log; 'always' need not wait for it, but batch/never sync it too.
    if (this.#dirtyIndex && this.#options.fsync !== 'always') fds.push(this.#indexFd);
    this.#dirtyLog = this.#dirtyMeta = false;
    if (this.#options.fsync !== 'always') this.#dirtyIndex = false;
    try {
      await Promise.all(fds.map((fd) => fsyncAsync(fd)));
    } catch (error) {
      if (this.#closed) return; // close() synced everything itself
      this.#failed = asStorageFailure(
        NAME,
        `fsync of room "${this.room}" (the outcome of recent writes is unknown; reopen the backend)`,
        error,
      );
      throw this.#failed;
    }
    this.#synced = Math.max(this.#synced, upTo);
  }

  /** Logical retention: drops the oldest ids beyond `max`; the files are compacted once the dead prefix is large. */
  #retain(max: number): void {
    const excess = this.#lastId - this.#oldestId + 1 - max;
    if (excess <= 0) return;
    for (let id = this.#oldestId; id < this.#oldestId + excess; id++) {
      const composite = this.#keyById.get(id);
      if (composite !== undefined) {
        this.#keyById.delete(id);
        if (this.#idempotency.get(composite) === id) this.#idempotency.delete(composite);
      }
      if (this.#cached(id)) this.#cache[id % CACHE_SIZE] = undefined;
    }
    this.#oldestId += excess;
    const dead = this.#oldestId - this.#firstId;
    if (dead >= Math.max(1024, this.#lastId - this.#oldestId + 1)) this.#compact();
  }

  /**
   * Rewrites the retained records into a new generation of files, then points
   * the journal at it with one atomic rename: a crash before the rename leaves
   * the old generation in force, after it the new one.
   */
  #compact(): void {
    const gen = this.#gen + 1;
    const skip = this.#oldestId - this.#firstId;
    const logFrom = this.#pos.get(skip);
    const indexFrom = this.#ipos.get(skip);
    const logDelta = logFrom - HEADER_BYTES;
    const indexDelta = indexFrom - HEADER_BYTES;
    const logBody = this.#readAt(logFrom, this.#logSize - logFrom, true);
    this.#flushIndex();
    const indexBody = this.#readAt(indexFrom, this.#indexSize - indexFrom, true, this.#indexFd);
    for (let at = 0; at < indexBody.length; ) {
      indexBody.writeDoubleLE(indexBody.readDoubleLE(at + 4) - logDelta, at + 4);
      at += INDEX_FIXED_BYTES + indexBody.readUInt16LE(at + 33) * 4 + indexBody.readUInt16LE(at + 35);
    }
    writeFileSynced(this.#logPath(gen), [fileHeader(LOG_MAGIC, this.#oldestId), logBody]);
    writeFileSynced(this.#indexPath(gen), [fileHeader(INDEX_MAGIC, this.#oldestId), indexBody]);
    const oldLog = this.#logPath();
    const oldIndex = this.#indexPath();
    // Keep the epochs still referenced by retained broadcasts, and the current one.
    const b = this.#bcIds.firstAbove(this.#oldestId - 1);
    const keep = new Map<number, Audience>();
    for (let i = b; i < this.#bcIds.length; i++) {
      const e = this.#bcEpochs.get(i);
      keep.set(e, this.#epochs.get(e) as Audience);
    }
    if (this.#currentEpoch !== undefined) keep.set(this.#currentEpoch, this.#epochs.get(this.#currentEpoch) as Audience);
    this.#epochs = keep;
    const firstId = this.#oldestId;
    this.#firstId = firstId;
    this.#writeSnapshot(gen);
    this.#retire(this.#logFd);
    this.#retire(this.#indexFd);
    this.#logFd = fs.openSync(this.#logPath(gen), 'r+');
    this.#indexFd = fs.openSync(this.#indexPath(gen), 'r+');
    fs.rmSync(oldLog, { force: true });
    fs.rmSync(oldIndex, { force: true });
    this.#pos = this.#pos.sliceFrom(skip, (v) => v - logDelta);
    this.#ipos = this.#ipos.sliceFrom(skip, (v) => v - indexDelta);
    this.#logSize -= logDelta;
    this.#indexSize -= indexDelta;
    this.#indexWritten = this.#indexSize;
    this.#bcIds = this.#bcIds.sliceFrom(b);
    this.#bcEpochs = this.#bcEpochs.sliceFrom(b);
    this.#bcSenders = this.#bcSenders.sliceFrom(b);
    for (const [no, ids] of this.#ownBroadcasts) this.#ownBroadcasts.set(no, ids.sliceFrom(ids.firstAbove(firstId - 1)));
    for (const [agent, ids] of this.#direct) this.#direct.set(agent, ids.slice(firstAbove(ids, firstId - 1)));
    // Everything written so far is on disk now.
    this.#synced = this.#writes;
    this.#dirtyLog = this.#dirtyIndex = this.#dirtyMeta = false;
  }

  /** Replaces `meta.jsonl` with a format line and one snapshot (atomic rename). */
  #writeSnapshot(gen: number): void {
    const snap: MetaRecord = {
      t: 'snap',
      gen,
      floor: this.#firstId,
      oldest: this.#oldestId,
      asOf: this.#lastId,
      agents: this.#agents,
      members: [...this.#members.values()].map((m) => ({
        id: m.id,
        on: m.online,
        g: m.groups,
        j: m.joinedAfter,
        c: m.cursor,
        sent: m.sentCount,
        last: m.lastSentAt,
      })),
      epochs: [...this.#epochs].map(([e, a]) => [e, [...a.all]]),
      nextEpoch: this.#nextEpoch,
    };
    const text = `${JSON.stringify({ t: 'format', format: 'modular-message-bus/file', version: FORMAT_VERSION })}\n${JSON.stringify(snap)}\n`;
    const file = path.join(this.dir, 'meta.jsonl');
    writeFileSynced(`${file}.tmp`, [Buffer.from(text, 'utf8')]);
    fs.renameSync(`${file}.tmp`, file);
    fsyncDir(this.dir);
    this.#retire(this.#metaFd);
    this.#metaFd = fs.openSync(file, 'r+');
    this.#metaSize = Buffer.byteLength(text);
    this.#metaLines = 2;
    this.#asOf = this.#lastId;
    this.#savedOldest = this.#oldestId;
    this.#gen = gen;
    // A snapshot does not name the current epoch: the next broadcast starts a new one.
    this.#currentEpoch = undefined;
  }

  /** Closes a replaced file once no fsync on it is in flight (closing under it could fsync an unrelated file that reused the number). */
  #retire(fd: number): void {
    const close = () => fs.closeSync(fd);
    if (this.#inflight) void this.#inflight.then(close, close);
    else close();
  }

  #end(id: number): number {
    const next = id + 1 - this.#firstId;
    return next < this.#pos.length ? this.#pos.get(next) : this.#logSize;
  }

  /** Reads `length` bytes of the log (or of `fd`) at `offset` into a shared buffer (or a fresh one when `own`). */
  #readAt(offset: number, length: number, own = false, fd = this.#logFd): Buffer {
    let buf: Buffer;
    // Large reads (a long history page of big messages) get their own buffer rather than growing the shared one for good.
    if (own || length > 1024 * 1024) buf = Buffer.allocUnsafe(length);
    else {
      if (this.#readBuf.length < length) this.#readBuf = Buffer.alloc(Math.max(length, this.#readBuf.length * 2));
      buf = this.#readBuf.subarray(0, length);
    }
    let done = 0;
    while (done < length) {
      const n = fs.readSync(fd, buf, done, length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    return buf.subarray(0, done);
  }

  #read(id: number): StoredMessage {
    const cached = this.#cached(id);
    if (cached) return cached;
    const start = this.#pos.get(id - this.#firstId);
    // Not cached: the cache keeps recent appends (what live subscribers fetch), not whatever history was read.
    return this.#toStored(this.#decode(this.#readAt(start, this.#end(id) - start), 0, id));
  }

  #decode(buf: Buffer, at: number, id: number): LogPayload {
    const decoded = decodeRecord(buf, at, id);
    if (!decoded) {
      throw new MessageBusError(
        'STORAGE_FAILURE',
        `[${NAME}] message ${id} of room "${this.room}" in ${this.dir} is corrupt (checksum mismatch)`,
      );
    }
    return decoded.payload;
  }

  #toStored(p: LogPayload): StoredMessage {
    let recipients: readonly string[];
    if (p.a === KIND_LIST) recipients = Object.freeze(p.r ?? []);
    else {
      const audience = this.#epochs.get(p.e);
      if (!audience)
        throw new MessageBusError('STORAGE_FAILURE', `[${NAME}] audience ${p.e} of message ${p.id} in room "${this.room}" is missing`);
      recipients = audience.recipients(p.a === KIND_MEMBERS ? null : p.s);
    }
    return storedMessage(this.room, p.id, p.t, p.s, p.c, recipients, p.p, p.q, p.k);
  }

  #remember(message: StoredMessage): void {
    this.#cache[message.id % CACHE_SIZE] = message;
  }

  #cached(id: number): StoredMessage | undefined {
    const message = this.#cache[id % CACHE_SIZE];
    return message?.id === id ? message : undefined;
  }

  /** Writes the pending index entries: before an fsync, a compaction or close, or once 64 KiB have gathered. */
  #flushIndex(): void {
    if (this.#indexPendingBytes === 0) return;
    const bytes = this.#indexPending.length === 1 ? (this.#indexPending[0] as Buffer) : Buffer.concat(this.#indexPending);
    this.#indexPending = [];
    this.#indexPendingBytes = 0;
    writeAll(this.#indexFd, bytes, this.#indexWritten);
    this.#indexWritten += bytes.length;
    this.#dirtyIndex = true;
  }

  #inBroadcast(b: number, member: Member): boolean {
    if (this.#bcSenders.get(b) === member.no) return false;
    return (this.#epochs.get(this.#bcEpochs.get(b)) as Audience).members.has(member.id);
  }

  #lastRoutedId(member: Member): number {
    const direct = this.#direct.get(member.id);
    let last = direct && direct.length > 0 ? (direct[direct.length - 1] as number) : 0;
    for (let i = this.#bcIds.length - 1; i >= 0; ) {
      const id = this.#bcIds.get(i);
      if (id <= last || id <= member.joinedAfter) break;
      if (this.#inBroadcast(i, member)) {
        last = id;
        break;
      }
      i = this.#bcSenders.get(i) === member.no ? this.#pastOwn(i, member.no, -1) : i - 1;
    }
    return last >= this.#oldestId ? last : 0;
  }

  #ownList(senderNo: number): NumberList {
    let list = this.#ownBroadcasts.get(senderNo);
    if (!list) this.#ownBroadcasts.set(senderNo, (list = new NumberList(64)));
    return list;
  }

  /**
   * From position `b` of the broadcast list, which holds a broadcast of `no` that excludes it, the first
   * position in `direction` (1 forwards, -1 backwards) holding anyone else's broadcast (or past the end).
   * A binary search comparing positions in the broadcast list with positions in the sender's own list:
   * an agent that sent a million broadcasts in a row is jumped over in O(log² n), not scanned.
   */
  #pastOwn(b: number, no: number, direction: 1 | -1): number {
    const own = this.#ownList(no);
    const r = own.firstAbove(this.#bcIds.get(b)) - 1; // position of bc[b] in the own list
    // All of bc[b..q] (or bc[q..b]) are own when they are as many as the own entries between the same ids.
    const allOwn = (q: number) => {
      const ownAt = own.firstAbove(this.#bcIds.get(q)) - 1;
      return direction === 1
        ? ownAt - r === q - b && own.get(ownAt) === this.#bcIds.get(q)
        : r - ownAt === b - q && own.get(ownAt) === this.#bcIds.get(q);
    };
    let lo = direction === 1 ? b : 0;
    let hi = direction === 1 ? this.#bcIds.length - 1 : b;
    if (direction === 1) {
      // Largest q with bc[b..q] all own; the answer is q + 1.
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1;
        if (allOwn(mid)) lo = mid;
        else hi = mid - 1;
      }
      return lo + 1;
    }
    // Smallest q with bc[q..b] all own; the answer is q - 1.
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (allOwn(mid)) hi = mid;
      else lo = mid + 1;
    }
    return lo - 1;
  }

  #closeFds(): void {
    for (const fd of [this.#logFd, this.#indexFd, this.#metaFd]) {
      if (fd >= 0) fs.closeSync(fd);
    }
    this.#logFd = this.#indexFd = this.#metaFd = -1;
  }
}

/** Thrown by a load whose last index entry does not match the log: load again with fewer entries. */
class ShorterIndex extends Error {
  constructor(readonly count: number) {
    super('index ahead of the log');
  }
}

/** The directory of `room` under `base`. The `r-` prefix keeps ids like `.` and `..` from naming anything else. */
export function roomDir(base: string, room: string): string {
  return path.join(base, `r-${room}`);
}

function storedMessage(
  room: string,
  id: number,
  timestamp: number,
  sender: string,
  content: unknown,
  recipients: readonly string[],
  policy: string,
  requested: string[] | readonly string[] | null,
  idempotencyKey: string | undefined,
): StoredMessage {
  return Object.freeze({
    id,
    room,
    timestamp,
    sender,
    content: deepFreeze(content as never),
    recipients,
    routing: Object.freeze({ policy, requested: requested && Object.freeze([...requested]) }),
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
  }) as StoredMessage;
}

function writeAll(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) done += fs.writeSync(fd, buf, done, buf.length - done, position + done);
}

function writeFileSynced(file: string, parts: Buffer[]): void {
  const fd = fs.openSync(file, 'w');
  try {
    let at = 0;
    for (const part of parts) {
      writeAll(fd, part, at);
      at += part.length;
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Some platforms cannot fsync a directory; the rename is still atomic.
  }
}

function firstAbove(list: readonly number[], value: number): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((list[mid] as number) <= value) low = mid + 1;
    else high = mid;
  }
  return low;
}

function toRecord(member: Member): MemberRecord {
  return { id: member.id, online: member.online, groups: [...member.groups], joinedAfter: member.joinedAfter };
}
