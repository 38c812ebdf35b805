/**
 * The files of one room and how they reach the disk: the current generation's
 * log and index, the `meta.jsonl` journal's descriptor, where each message
 * sits in them, and group commit (concurrent writers share one fsync). All
 * writes are synchronous; only waiting for fsync is not.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { asStorageFailure, MessageBusError } from '../../core/errors.js';
import { NumberList } from '../kit/index.js';
import { encodeIndex, fileHeader, HEADER_BYTES, INDEX_MAGIC, type IndexEntry, LOG_MAGIC, readHeader } from './format.js';

export const NAME = 'file';

/** When `append` resolves relative to fsync. */
export type FsyncMode = 'always' | 'batch' | 'never';

const fsyncAsync = promisify(fs.fsync);
/** Pending index bytes written out at once (the index is derived: it may lag the log). */
const INDEX_FLUSH_BYTES = 64 * 1024;

export class RoomFiles {
  readonly room: string;
  readonly dir: string;
  readonly #fsync: FsyncMode;
  /** The generation whose `log.<n>.bin` / `index.<n>.bin` are current; compaction starts the next. */
  generation = 0;
  logFd = -1;
  indexFd = -1;
  metaFd = -1;
  logSize = 0;
  /** Bytes of the index, pending entries included. */
  indexSize = 0;
  metaSize = 0;
  metaLines = 0;
  /** Id of the first record in the current generation: `logOffsets` and `indexOffsets` are indexed from it. */
  firstId = 1;
  /** Log offset of each message's record. */
  logOffsets = new NumberList();
  /** Index-file offset of each message's entry. */
  indexOffsets = new NumberList();
  /** Set once a write or fsync failed in a way that leaves the outcome unknown: the room must be reopened. */
  failed: MessageBusError | undefined;
  /** Index entries written to the log but not yet to the index file (the index is rebuilt from the log after a crash). */
  #indexPending: Buffer[] = [];
  #indexPendingBytes = 0;
  /** Bytes of the index file actually written. */
  #indexWritten = 0;
  #readBuffer = Buffer.alloc(64 * 1024);
  /** Writes made and writes known to be fsynced: `flush` waits until the second catches up with the first. */
  #writes = 0;
  #synced = 0;
  #inflight: Promise<void> | undefined;
  #dirtyLog = false;
  #dirtyMeta = false;
  #dirtyIndex = false;
  #closed = false;

  constructor(room: string, dir: string, fsync: FsyncMode) {
    this.room = room;
    this.dir = dir;
    this.#fsync = fsync;
  }

  get metaPath(): string {
    return path.join(this.dir, 'meta.jsonl');
  }

  logPath(generation = this.generation): string {
    return path.join(this.dir, `log.${generation}.bin`);
  }

  indexPath(generation = this.generation): string {
    return path.join(this.dir, `index.${generation}.bin`);
  }

  /** Opens the current generation (creating it empty when missing) and removes other generations' leftovers. */
  openData(): void {
    const logPath = this.logPath();
    if (!fs.existsSync(logPath)) {
      // A fresh room, or a compaction that died before its snapshot named the new generation: start this generation empty.
      writeFileSynced(logPath, [fileHeader(LOG_MAGIC, this.firstId)]);
      writeFileSynced(this.indexPath(), [fileHeader(INDEX_MAGIC, this.firstId)]);
      fsyncDir(this.dir);
    }
    this.logFd = fs.openSync(logPath, 'r+');
    const header = Buffer.alloc(HEADER_BYTES);
    fs.readSync(this.logFd, header, 0, HEADER_BYTES, 0);
    const first = readHeader(header, LOG_MAGIC);
    if (typeof first === 'string' || first !== this.firstId) {
      throw new MessageBusError(
        'STORAGE_FAILURE',
        `[${NAME}] ${logPath} is unreadable (${typeof first === 'string' ? first : `starts at id ${first}, expected ${this.firstId}`}); restore the room directory from a backup`,
      );
    }
    this.indexFd = fs.openSync(this.indexPath(), fs.existsSync(this.indexPath()) ? 'r+' : 'w+');
    // Files of other generations are leftovers of an interrupted compaction.
    for (const name of fs.readdirSync(this.dir)) {
      const match = /^(log|index)\.(\d+)\.bin$/.exec(name);
      if (match && Number(match[2]) !== this.generation) fs.rmSync(path.join(this.dir, name), { force: true });
    }
  }

  /** After loading: the index holds `indexSize` valid bytes, all of them written. */
  loaded(): void {
    this.#indexWritten = this.indexSize;
  }

  /** Appends a message's log record and queues its index entry. A failed log write leaves nothing behind. */
  writeMessage(record: Buffer, entry: IndexEntry): void {
    const logSize = this.logSize;
    try {
      writeAll(this.logFd, record, logSize);
    } catch (error) {
      try {
        fs.ftruncateSync(this.logFd, logSize);
      } catch {
        this.failed = asStorageFailure(NAME, `writing room "${this.room}" (reopen the backend)`, error);
      }
      throw asStorageFailure(NAME, `appending to room "${this.room}"`, error);
    }
    const encoded = encodeIndex(entry);
    this.logOffsets.push(logSize);
    this.indexOffsets.push(this.indexSize);
    this.logSize += record.length;
    this.indexSize += encoded.length;
    this.#indexPending.push(encoded);
    this.#indexPendingBytes += encoded.length;
    this.#dirtyLog = true;
    this.#writes++;
    if (this.#indexPendingBytes >= INDEX_FLUSH_BYTES) {
      try {
        this.flushIndex();
      } catch {
        // The index is derived: a failed write here is repaired from the log on the next open.
      }
    }
  }

  /** Appends one line to the journal. */
  appendMeta(line: Buffer): void {
    writeAll(this.metaFd, line, this.metaSize);
    this.metaSize += line.length;
    this.metaLines++;
    this.#dirtyMeta = true;
    this.#writes++;
  }

  /** Replaces the journal with `text` (atomic rename), fsynced. */
  replaceMeta(text: string, lines: number): void {
    const file = this.metaPath;
    writeFileSynced(`${file}.tmp`, [Buffer.from(text, 'utf8')]);
    fs.renameSync(`${file}.tmp`, file);
    fsyncDir(this.dir);
    this.retire(this.metaFd);
    this.metaFd = fs.openSync(file, 'r+');
    this.metaSize = Buffer.byteLength(text);
    this.metaLines = lines;
  }

  /** Writes the pending index entries: before an fsync, a compaction or close, or once 64 KiB have gathered. */
  flushIndex(): void {
    if (this.#indexPendingBytes === 0) return;
    const bytes = this.#indexPending.length === 1 ? (this.#indexPending[0] as Buffer) : Buffer.concat(this.#indexPending);
    this.#indexPending = [];
    this.#indexPendingBytes = 0;
    writeAll(this.indexFd, bytes, this.#indexWritten);
    this.#indexWritten += bytes.length;
    this.#dirtyIndex = true;
  }

  /** Resolves once what was written before the call is durable, as far as the fsync mode promises. */
  async durable(): Promise<void> {
    if (this.#fsync === 'always') await this.flush();
  }

  /** Resolves when every write made before the call is fsynced; concurrent callers share one fsync. */
  async flush(): Promise<void> {
    const target = this.#writes;
    while (this.#synced < target) {
      this.#inflight ??= this.#fsyncNow().finally(() => {
        this.#inflight = undefined;
      });
      await this.#inflight;
    }
  }

  /** Everything written so far is on disk (a compaction wrote fresh, fsynced files). */
  allSynced(): void {
    this.#synced = this.#writes;
    this.#dirtyLog = this.#dirtyIndex = this.#dirtyMeta = false;
  }

  /** Byte offset just past message `id`'s log record. */
  endOf(id: number): number {
    const next = id + 1 - this.firstId;
    return next < this.logOffsets.length ? this.logOffsets.get(next) : this.logSize;
  }

  /** Reads `length` bytes of the log (or of `fd`) at `offset` into a shared buffer (or a fresh one when `own`). */
  readAt(offset: number, length: number, own = false, fd = this.logFd): Buffer {
    let buf: Buffer;
    // Large reads (a long history page of big messages) get their own buffer rather than growing the shared one for good.
    if (own || length > 1024 * 1024) buf = Buffer.allocUnsafe(length);
    else {
      if (this.#readBuffer.length < length) this.#readBuffer = Buffer.alloc(Math.max(length, this.#readBuffer.length * 2));
      buf = this.#readBuffer.subarray(0, length);
    }
    let done = 0;
    while (done < length) {
      const n = fs.readSync(fd, buf, done, length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    return buf.subarray(0, done);
  }

  /** Closes a replaced file once no fsync on it is in flight (closing under it could fsync an unrelated file that reused the number). */
  retire(fd: number): void {
    const close = () => fs.closeSync(fd);
    if (this.#inflight) void this.#inflight.then(close, close);
    else close();
  }

  /** Makes everything durable (unless a failure made that meaningless) and closes the files. */
  close(): void {
    this.#closed = true;
    try {
      if (!this.failed) {
        this.flushIndex();
        for (const fd of [this.logFd, this.indexFd, this.metaFd]) fs.fsyncSync(fd);
      }
    } finally {
      this.closeFds();
    }
  }

  closeFds(): void {
    for (const fd of [this.logFd, this.indexFd, this.metaFd]) {
      if (fd >= 0) fs.closeSync(fd);
    }
    this.logFd = this.indexFd = this.metaFd = -1;
  }

  async #fsyncNow(): Promise<void> {
    const upTo = this.#writes;
    if (this.#fsync !== 'always') this.flushIndex();
    const fds: number[] = [];
    // The log before the meta journal is fine: an epoch line is written (and so synced) before the records naming it.
    if (this.#dirtyLog) fds.push(this.logFd);
    if (this.#dirtyMeta) fds.push(this.metaFd);
    // The index is derived from the log; 'always' need not wait for it, but batch/never sync it too.
    if (this.#dirtyIndex && this.#fsync !== 'always') fds.push(this.indexFd);
    this.#dirtyLog = this.#dirtyMeta = false;
    if (this.#fsync !== 'always') this.#dirtyIndex = false;
    try {
      await Promise.all(fds.map((fd) => fsyncAsync(fd)));
    } catch (error) {
      if (this.#closed) return; // close() synced everything itself
      this.failed = asStorageFailure(
        NAME,
        `fsync of room "${this.room}" (the outcome of recent writes is unknown; reopen the backend)`,
        error,
      );
      throw this.failed;
    }
    this.#synced = Math.max(this.#synced, upTo);
  }
}

export function writeAll(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) done += fs.writeSync(fd, buf, done, buf.length - done, position + done);
}

export function writeFileSynced(file: string, parts: Buffer[]): void {
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

export function fsyncDir(dir: string): void {
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
