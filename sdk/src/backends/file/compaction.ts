/**
 * Compaction: once retention has made a large prefix of the files dead, the
 * retained records are rewritten into a new generation of files, and the
 * journal is pointed at it with one atomic rename (`commit`): a crash before
 * the rename leaves the old generation in force, after it the new one.
 */
import * as fs from 'node:fs';
import { type RoomFiles, writeFileSynced } from './files.js';
import { fileHeader, HEADER_BYTES, INDEX_FIXED_BYTES, INDEX_MAGIC, LOG_MAGIC } from './format.js';

/** Whether the dead prefix (ids below `oldestId`) is large enough to compact now. */
export function worthCompacting(files: RoomFiles, oldestId: number, lastId: number): boolean {
  const dead = oldestId - files.firstId;
  return dead >= Math.max(1024, lastId - oldestId + 1);
}

/** Rewrites the records from `oldestId` on as the next generation; `commit(generation)` must name it in the journal. */
export function compactFiles(files: RoomFiles, oldestId: number, commit: (generation: number) => void): void {
  const generation = files.generation + 1;
  const skip = oldestId - files.firstId;
  const logFrom = files.logOffsets.get(skip);
  const indexFrom = files.indexOffsets.get(skip);
  const logDelta = logFrom - HEADER_BYTES;
  const indexDelta = indexFrom - HEADER_BYTES;
  const logBody = files.readAt(logFrom, files.logSize - logFrom, true);
  files.flushIndex();
  const indexBody = files.readAt(indexFrom, files.indexSize - indexFrom, true, files.indexFd);
  // Index entries name their record's log offset: shift them with the log.
  for (let at = 0; at < indexBody.length; ) {
    indexBody.writeDoubleLE(indexBody.readDoubleLE(at + 4) - logDelta, at + 4);
    at += INDEX_FIXED_BYTES + indexBody.readUInt16LE(at + 33) * 4 + indexBody.readUInt16LE(at + 35);
  }
  writeFileSynced(files.logPath(generation), [fileHeader(LOG_MAGIC, oldestId), logBody]);
  writeFileSynced(files.indexPath(generation), [fileHeader(INDEX_MAGIC, oldestId), indexBody]);
  const oldLog = files.logPath();
  const oldIndex = files.indexPath();
  files.firstId = oldestId;
  commit(generation);
  files.generation = generation;
  files.retire(files.logFd);
  files.retire(files.indexFd);
  files.logFd = fs.openSync(files.logPath(), 'r+');
  files.indexFd = fs.openSync(files.indexPath(), 'r+');
  fs.rmSync(oldLog, { force: true });
  fs.rmSync(oldIndex, { force: true });
  files.logOffsets = files.logOffsets.sliceFrom(skip, (v) => v - logDelta);
  files.indexOffsets = files.indexOffsets.sliceFrom(skip, (v) => v - indexDelta);
  files.logSize -= logDelta;
  files.indexSize -= indexDelta;
  files.loaded();
  // Everything written so far is on disk now.
  files.allSynced();
}

/** The epoch number stored in message `id`'s index entry (a broadcast's). */
export function epochInIndex(files: RoomFiles, id: number): number {
  const at = files.indexOffsets.get(id - files.firstId);
  files.flushIndex();
  return files.readAt(at + 29, 4, true, files.indexFd).readUInt32LE(0);
}
