/**
 * On-disk format of `FileStorageBackend`, version 1. Everything that reads or
 * writes bytes lives here so the format is in one place (docs/file-and-redis.md
 * describes it for humans).
 *
 * Per room directory `r-<room>/`:
 * - `log.<gen>.bin`: a 20-byte header (`MMBLOG01`, u32 version, f64 first id),
 *   then one record per message: u32 payload length, u32 CRC-32 of the payload,
 *   payload (UTF-8 JSON, see `LogPayload`). The source of truth for messages.
 * - `index.<gen>.bin`: a 20-byte header (`MMBIDX01`, u32 version, f64 first id),
 *   then one record per message (`IndexEntry`, little-endian): derived from the
 *   log, so a missing or torn tail is rebuilt from the log on open.
 * - `meta.jsonl`: a JSON-lines journal of membership, acks and broadcast
 *   audiences (`MetaRecord`), compacted into one `snap` line now and then.
 * - `LOCK`: who holds the room (see lock.ts).
 */
import * as zlib from 'node:zlib';

export const FORMAT_VERSION = 1;
export const LOG_MAGIC = 'MMBLOG01';
export const INDEX_MAGIC = 'MMBIDX01';
export const HEADER_BYTES = 20;
/** Fixed part of an index entry; recipients (u32 each) and the idempotency key (UTF-8) follow. */
export const INDEX_FIXED_BYTES = 37;
/** Record header in the log: u32 length + u32 CRC-32. */
export const LOG_RECORD_HEADER = 8;

/** How a message's audience is stored: 0 an explicit list, 1 every member of an epoch, 2 every member but the sender. */
export const KIND_LIST = 0;
export const KIND_MEMBERS = 1;
export const KIND_EXCEPT_SENDER = 2;

/** One message in the log. Broadcasts keep no recipient list: `e` names the audience epoch in `meta.jsonl`. */
export interface LogPayload {
  id: number;
  t: number;
  s: string;
  a: 0 | 1 | 2;
  e: number;
  r?: string[];
  p: string;
  q: readonly string[] | null;
  k?: string;
  c: unknown;
}

/** One message in the index: enough to route a fetch and rebuild counters without reading the log. */
export interface IndexEntry {
  id: number;
  offset: number;
  length: number;
  timestamp: number;
  kind: number;
  senderNo: number;
  epoch: number;
  recipients: number[];
  key: string | undefined;
}

/** A line of `meta.jsonl`. Agents are numbered in order of first appearance (`n`), so the index can store u32s. */
export type MetaRecord =
  | { t: 'format'; format: 'modular-message-bus/file'; version: number }
  | { t: 'put'; id: string; on: boolean; g: string[]; j: number; fresh?: 1; n?: number }
  | { t: 'rm'; id: string }
  | { t: 'ack'; id: string; c: number }
  | { t: 'epoch'; e: number; m: string[] }
  | {
      t: 'snap';
      gen: number;
      /** First id in the files of generation `gen`. */
      floor: number;
      /** Oldest id retention keeps (may be above `floor` until the next compaction). */
      oldest?: number;
      /** Send counters in `members` include every id up to this one. */
      asOf: number;
      agents: string[];
      members: SnapMember[];
      epochs: [number, string[]][];
      nextEpoch: number;
    };

export interface SnapMember {
  id: string;
  on: boolean;
  g: string[];
  j: number;
  c: number;
  sent: number;
  last: number | null;
}

const crcTable = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

const nativeCrc = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

/** CRC-32 (IEEE): zlib's where Node has it (20.15+), a table otherwise. */
export function crc32(data: Uint8Array): number {
  if (nativeCrc) return nativeCrc(data) >>> 0;
  let c = -1;
  for (let i = 0; i < data.length; i++) c = (crcTable[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

export function fileHeader(magic: string, firstId: number): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.write(magic, 0, 'latin1');
  header.writeUInt32LE(FORMAT_VERSION, 8);
  header.writeDoubleLE(firstId, 12);
  return header;
}

/** The first id a file's header declares, or an error message when it is not a version-1 file of that kind. */
export function readHeader(buf: Buffer, magic: string): number | string {
  if (buf.length < HEADER_BYTES || buf.toString('latin1', 0, 8) !== magic) return `not a ${magic} file`;
  const version = buf.readUInt32LE(8);
  if (version !== FORMAT_VERSION) return `format version ${version}; this library reads version ${FORMAT_VERSION}`;
  return buf.readDoubleLE(12);
}

/** The log payload, reusing the bus's `contentJson` instead of serialising the content again. */
export function encodePayload(p: Omit<LogPayload, 'c'>, contentJson: string): Buffer {
  let json = `{"id":${p.id},"t":${p.t},"s":${JSON.stringify(p.s)},"a":${p.a},"e":${p.e}`;
  if (p.r) json += `,"r":${JSON.stringify(p.r)}`;
  json += `,"p":${JSON.stringify(p.p)},"q":${JSON.stringify(p.q)}`;
  if (p.k !== undefined) json += `,"k":${JSON.stringify(p.k)}`;
  json += `,"c":${contentJson}}`;
  const body = Buffer.from(json, 'utf8');
  const record = Buffer.allocUnsafe(LOG_RECORD_HEADER + body.length);
  record.writeUInt32LE(body.length, 0);
  record.writeUInt32LE(crc32(body), 4);
  body.copy(record, LOG_RECORD_HEADER);
  return record;
}

/** Parses a log record at `at` in `buf`; `undefined` when it is incomplete, corrupt or not the expected id. */
export function decodeRecord(buf: Buffer, at: number, expectedId: number): { payload: LogPayload; length: number } | undefined {
  if (at + LOG_RECORD_HEADER > buf.length) return undefined;
  const size = buf.readUInt32LE(at);
  const end = at + LOG_RECORD_HEADER + size;
  if (size < 2 || end > buf.length) return undefined;
  const body = buf.subarray(at + LOG_RECORD_HEADER, end);
  if (crc32(body) !== buf.readUInt32LE(at + 4)) return undefined;
  let payload: LogPayload;
  try {
    payload = JSON.parse(body.toString('utf8')) as LogPayload;
  } catch {
    return undefined;
  }
  if (payload?.id !== expectedId) return undefined;
  return { payload, length: LOG_RECORD_HEADER + size };
}

export function encodeIndex(entry: IndexEntry): Buffer {
  const key = entry.key === undefined ? undefined : Buffer.from(entry.key, 'utf8');
  const buf = Buffer.allocUnsafe(INDEX_FIXED_BYTES + entry.recipients.length * 4 + (key?.length ?? 0));
  buf.writeUInt32LE(entry.id, 0);
  buf.writeDoubleLE(entry.offset, 4);
  buf.writeUInt32LE(entry.length, 12);
  buf.writeDoubleLE(entry.timestamp, 16);
  buf.writeUInt8(entry.kind, 24);
  buf.writeUInt32LE(entry.senderNo, 25);
  buf.writeUInt32LE(entry.epoch, 29);
  buf.writeUInt16LE(entry.recipients.length, 33);
  buf.writeUInt16LE(key?.length ?? 0, 35);
  let at = INDEX_FIXED_BYTES;
  for (const r of entry.recipients) {
    buf.writeUInt32LE(r, at);
    at += 4;
  }
  key?.copy(buf, at);
  return buf;
}
