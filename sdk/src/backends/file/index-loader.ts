/**
 * Opening a room's data: the index file is read once and checked entry by
 * entry as it is applied (ids consecutive, offsets contiguous, agents known);
 * the last entry must also match its log record, else the load restarts with
 * one entry fewer (`ShorterIndex`): a power loss can leave an index ahead of
 * its log. Log records past the index (the process died between the two
 * writes) are indexed again; a torn last record is cut.
 */
import * as fs from 'node:fs';
import type { RoomFiles } from './files.js';
import {
  decodeRecord,
  encodeIndex,
  fileHeader,
  HEADER_BYTES,
  INDEX_FIXED_BYTES,
  INDEX_MAGIC,
  type IndexEntry,
  KIND_EXCEPT_SENDER,
  KIND_LIST,
  LOG_RECORD_HEADER,
  type LogPayload,
  readHeader,
} from './format.js';

/** What the loader needs of the room it loads into. */
export interface IndexedRoom {
  /** Agent ids by number (agents are numbered in the order they first joined). */
  readonly agents: readonly string[];
  agentNumber(id: string): number | undefined;
  hasEpoch(epoch: number): boolean;
  /** Adds one message's entry to the in-memory state. `entry` may be reused for the next message: read it, do not keep it. */
  apply(entry: IndexEntry): void;
}

/** Thrown by a load whose last index entry does not match the log: load again with fewer entries. */
export class ShorterIndex extends Error {
  constructor(readonly count: number) {
    super('index ahead of the log');
  }
}

/** Loads at most `limit` index entries of the current generation, then repairs the log's tail. */
export function loadIndex(files: RoomFiles, room: IndexedRoom, limit: number): void {
  const index = fs.readFileSync(files.indexPath());
  const logSize = fs.fstatSync(files.logFd).size;
  const firstIndexed = readHeader(index, INDEX_MAGIC);
  let at = HEADER_BYTES;
  let offset = HEADER_BYTES;
  let count = 0;
  let lastLength = 0;
  if (firstIndexed === files.firstId) {
    const agents = room.agents.length;
    const entry: IndexEntry = {
      id: files.firstId,
      offset,
      length: 0,
      timestamp: 0,
      kind: 0,
      senderNo: 0,
      epoch: 0,
      recipients: [],
      key: undefined,
    };
    let id = files.firstId;
    while (count < limit && at + INDEX_FIXED_BYTES <= index.length) {
      const length = index.readUInt32LE(at + 12);
      const kind = index[at + 24] as number;
      const senderNo = index.readUInt32LE(at + 25);
      const recipients = index.readUInt16LE(at + 33);
      const keyBytes = index.readUInt16LE(at + 35);
      const size = INDEX_FIXED_BYTES + recipients * 4 + keyBytes;
      if (index.readUInt32LE(at) !== id || index.readDoubleLE(at + 4) !== offset || length <= LOG_RECORD_HEADER) break;
      if (offset + length > logSize || kind > KIND_EXCEPT_SENDER || senderNo >= agents || at + size > index.length) break;
      entry.recipients.length = 0;
      for (let i = 0; i < recipients; i++) entry.recipients.push(index.readUInt32LE(at + INDEX_FIXED_BYTES + i * 4));
      if (entry.recipients.some((no) => no >= agents)) break;
      files.logOffsets.push(offset);
      files.indexOffsets.push(at);
      entry.id = id;
      entry.offset = offset;
      entry.length = length;
      entry.timestamp = index.readDoubleLE(at + 16);
      entry.kind = kind;
      entry.senderNo = senderNo;
      entry.epoch = kind === KIND_LIST ? 0 : index.readUInt32LE(at + 29);
      const keyAt = at + INDEX_FIXED_BYTES + recipients * 4;
      entry.key = keyBytes > 0 ? index.toString('utf8', keyAt, keyAt + keyBytes) : undefined;
      room.apply(entry);
      count++;
      id++;
      at += size;
      offset += length;
      lastLength = length;
    }
  }
  if (count > 0 && !recordMatches(files, offset - lastLength, lastLength, files.firstId + count - 1)) throw new ShorterIndex(count - 1);
  files.logSize = offset;
  files.indexSize = at;
  if (firstIndexed !== files.firstId) {
    fs.ftruncateSync(files.indexFd, 0);
    fs.writeSync(files.indexFd, fileHeader(INDEX_MAGIC, files.firstId), 0, HEADER_BYTES, 0);
  }
  fs.ftruncateSync(files.indexFd, files.indexSize);
  recoverLogTail(files, room, logSize);
  files.loaded();
}

function recordMatches(files: RoomFiles, offset: number, length: number, id: number): boolean {
  return decodeRecord(files.readAt(offset, length), 0, id) !== undefined;
}

function recoverLogTail(files: RoomFiles, room: IndexedRoom, logSize: number): void {
  if (logSize <= files.logSize) return;
  const tail = files.readAt(files.logSize, logSize - files.logSize, true);
  let at = 0;
  while (at < tail.length) {
    const id = files.firstId + files.logOffsets.length;
    const decoded = decodeRecord(tail, at, id);
    const entry = decoded && entryFromPayload(room, decoded.payload, files.logSize, decoded.length);
    if (!decoded || !entry) break;
    const encoded = encodeIndex(entry);
    fs.writeSync(files.indexFd, encoded, 0, encoded.length, files.indexSize);
    files.logOffsets.push(entry.offset);
    files.indexOffsets.push(files.indexSize);
    room.apply(entry);
    files.indexSize += encoded.length;
    files.logSize += decoded.length;
    at += decoded.length;
  }
  if (files.logSize < logSize) fs.ftruncateSync(files.logFd, files.logSize);
  fs.fsyncSync(files.logFd);
  fs.fsyncSync(files.indexFd);
}

function entryFromPayload(room: IndexedRoom, p: LogPayload, offset: number, length: number): IndexEntry | undefined {
  const senderNo = room.agentNumber(p.s);
  if (senderNo === undefined || (p.a !== KIND_LIST && !room.hasEpoch(p.e))) return undefined;
  const recipients: number[] = [];
  for (const r of p.r ?? []) {
    const no = room.agentNumber(r);
    if (no === undefined) return undefined;
    recipients.push(no);
  }
  return { id: p.id, offset, length, timestamp: p.t, kind: p.a, senderNo, epoch: p.e, recipients, key: p.k };
}
