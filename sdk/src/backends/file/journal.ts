/**
 * The `meta.jsonl` journal of a room: one JSON line per membership change,
 * ack and epoch (see `MetaRecord` in format.ts), compacted now and then into
 * a format line plus one `snap` line. This module reads it back and writes
 * it; what each record means is applied by the room.
 */
import * as fs from 'node:fs';
import { MessageBusError } from '../../core/errors.js';
import { fsyncDir, NAME, type RoomFiles } from './files.js';
import { FORMAT_VERSION, type MetaRecord } from './format.js';

/** Journal lines after which `meta.jsonl` is rewritten as one snapshot. */
export const META_COMPACT_LINES = 10_000;

const FORMAT_LINE = JSON.stringify({ t: 'format', format: 'modular-message-bus/file', version: FORMAT_VERSION });

/**
 * Opens the journal and replays it line by line through `apply`, which returns
 * `false` for a line that cannot be right: that line and everything after it
 * are cut, as is a torn last line. A new (or empty) journal gets its format line.
 */
export function openJournal(files: RoomFiles, apply: (record: MetaRecord, line: number) => boolean): void {
  const file = files.metaPath;
  files.metaFd = fs.openSync(file, fs.existsSync(file) ? 'r+' : 'w+');
  const text = fs.readFileSync(files.metaFd);
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
    if (!apply(record, lines)) break;
    lines++;
    at = newline + 1;
  }
  if (lines === 0) {
    // New (or unreadable from its first line): start the journal with its format line.
    const header = `${FORMAT_LINE}\n`;
    if (text.length > 0 && !text.subarray(0, 2).toString().startsWith('{')) {
      throw new MessageBusError(
        'STORAGE_FAILURE',
        `[${NAME}] ${file} is not a message-bus journal; move it away or choose another directory`,
      );
    }
    fs.ftruncateSync(files.metaFd, 0);
    fs.writeSync(files.metaFd, header, 0);
    fs.fsyncSync(files.metaFd);
    fsyncDir(files.dir);
    files.metaSize = Buffer.byteLength(header);
    files.metaLines = 1;
    return;
  }
  if (at < text.length) fs.ftruncateSync(files.metaFd, at);
  files.metaSize = at;
  files.metaLines = lines;
}

/** Checks the format line a journal starts with: this library reads version 1 only. */
export function checkFormat(record: Extract<MetaRecord, { t: 'format' }>, room: string, dir: string): void {
  if (record.version !== FORMAT_VERSION) {
    throw new MessageBusError(
      'STORAGE_FAILURE',
      `[${NAME}] room "${room}" in ${dir} uses format version ${record.version}; this library reads version ${FORMAT_VERSION}`,
    );
  }
}

/** Appends one record. */
export function journal(files: RoomFiles, record: MetaRecord): void {
  files.appendMeta(Buffer.from(`${JSON.stringify(record)}\n`, 'utf8'));
}

/** Replaces the journal with the format line and `snapshot`. */
export function writeSnapshot(files: RoomFiles, snapshot: Extract<MetaRecord, { t: 'snap' }>): void {
  files.replaceMeta(`${FORMAT_LINE}\n${JSON.stringify(snapshot)}\n`, 2);
}
