/**
 * Loading `threads.<gen>.bin` (see format.ts): which thread each message is
 * in, for the in-memory `ThreadIndex`. Like the index it is derived from the
 * log: entries past the log are cut, and a missing file or a missing or torn
 * tail is rebuilt from the log records' `h` field. A room written before
 * threads existed has no such file: its first open reads the log once to
 * write it (every such message is its own thread).
 */
import * as fs from 'node:fs';
import { fsyncDir, type RoomFiles, writeAll } from './files.js';
import { decodeRecord, fileHeader, HEADER_BYTES, readHeader, THREAD_ENTRY_BYTES, THREADS_MAGIC } from './format.js';

/** Opens the current generation's thread file and calls `add(thread, id)` for every retained reply. Run after the index is loaded. */
export function loadThreads(files: RoomFiles, add: (thread: number, id: number) => void): void {
  const file = files.threadsPath();
  const lastId = files.firstId + files.logOffsets.length - 1;
  const exists = fs.existsSync(file);
  files.threadsFd = fs.openSync(file, exists ? 'r+' : 'w+');
  const buf = exists ? fs.readFileSync(files.threadsFd) : Buffer.alloc(0);
  // A file for another first id (or none, or a damaged header) is rewritten from the log.
  const valid = readHeader(buf, THREADS_MAGIC) === files.firstId;
  if (!valid) fs.writeSync(files.threadsFd, fileHeader(THREADS_MAGIC, files.firstId), 0, HEADER_BYTES, 0);
  let count = 0;
  const stored = valid ? Math.floor((buf.length - HEADER_BYTES) / THREAD_ENTRY_BYTES) : 0;
  for (; count < stored && files.firstId + count <= lastId; count++) {
    const id = files.firstId + count;
    const thread = buf.readUInt32LE(HEADER_BYTES + count * THREAD_ENTRY_BYTES);
    if (thread >= id) break; // a root is 0, a reply's root is older than the reply: anything else is damage
    if (thread !== 0) add(thread, id);
  }
  // The entries the file lacks: the threads the log records name.
  const missing: number[] = [];
  for (let id = files.firstId + count; id <= lastId; id++) {
    const start = files.logOffsets.get(id - files.firstId);
    const thread = decodeRecord(files.readAt(start, files.endOf(id) - start), 0, id)?.payload.h ?? 0;
    missing.push(thread);
    if (thread !== 0) add(thread, id);
  }
  if (missing.length > 0) {
    const bytes = Buffer.allocUnsafe(missing.length * THREAD_ENTRY_BYTES);
    missing.forEach((thread, i) => {
      bytes.writeUInt32LE(thread, i * THREAD_ENTRY_BYTES);
    });
    writeAll(files.threadsFd, bytes, HEADER_BYTES + count * THREAD_ENTRY_BYTES);
  }
  files.threadsFirst = files.firstId;
  files.threadsCount = count + missing.length;
  fs.ftruncateSync(files.threadsFd, HEADER_BYTES + files.threadsCount * THREAD_ENTRY_BYTES);
  if (!exists || missing.length > 0) {
    fs.fsyncSync(files.threadsFd);
    if (!exists) fsyncDir(files.dir);
  }
}
