/**
 * Reading messages back from a room's log: one record, or a contiguous range
 * in one read, checked (CRC) and turned into frozen `StoredMessage`s with their
 * epoch's recipients. Recent appends come from the `RecentMessages` cache.
 */
import { MessageBusError } from '../../core/errors.js';
import type { JsonValue, StoredMessage } from '../../core/types.js';
import { deepFreeze } from '../../core/validate.js';
import { type Epoch, storedMessage } from '../kit/index.js';
import { NAME, type RoomFiles } from './files.js';
import { decodeRecord, KIND_LIST, KIND_MEMBERS, type LogPayload } from './format.js';
import type { RecentMessages } from './recent-messages.js';

export class MessageReader {
  readonly #files: RoomFiles;
  readonly #recent: RecentMessages;
  readonly #epoch: (epoch: number) => Epoch | undefined;

  constructor(files: RoomFiles, recent: RecentMessages, epoch: (epoch: number) => Epoch | undefined) {
    this.#files = files;
    this.#recent = recent;
    this.#epoch = epoch;
  }

  /** Message `id` (retained). Not remembered: the cache keeps new appends (what live subscribers fetch), not whatever history was read. */
  read(id: number): StoredMessage {
    const recent = this.#recent.get(id);
    if (recent) return recent;
    const files = this.#files;
    const start = files.logOffsets.get(id - files.firstId);
    return this.#toStored(this.#decode(files.readAt(start, files.endOf(id) - start), 0, id));
  }

  /** Messages `first..last` (retained, ascending): the ids are contiguous, so one read covers them all. */
  range(first: number, last: number): StoredMessage[] {
    if (first > last) return [];
    const files = this.#files;
    const start = files.logOffsets.get(first - files.firstId);
    const buf = files.readAt(start, files.endOf(last) - start);
    const out: StoredMessage[] = [];
    let at = 0;
    for (let id = first; id <= last; id++) {
      const length = files.endOf(id) - files.logOffsets.get(id - files.firstId);
      out.push(this.#recent.get(id) ?? this.#toStored(this.#decode(buf, at, id)));
      at += length;
    }
    return out;
  }

  #decode(buf: Buffer, at: number, id: number): LogPayload {
    const decoded = decodeRecord(buf, at, id);
    if (!decoded) {
      throw new MessageBusError(
        'STORAGE_FAILURE',
        `[${NAME}] message ${id} of room "${this.#files.room}" in ${this.#files.dir} is corrupt (checksum mismatch)`,
      );
    }
    return decoded.payload;
  }

  #toStored(p: LogPayload): StoredMessage {
    let recipients: readonly string[];
    if (p.a === KIND_LIST) recipients = Object.freeze(p.r ?? []);
    else {
      const epoch = this.#epoch(p.e);
      if (!epoch) {
        throw new MessageBusError('STORAGE_FAILURE', `[${NAME}] epoch ${p.e} of message ${p.id} in room "${this.#files.room}" is missing`);
      }
      recipients = epoch.recipients(p.a === KIND_MEMBERS ? null : p.s);
    }
    return storedMessage(this.#files.room, {
      id: p.id,
      timestamp: p.t,
      sender: p.s,
      content: deepFreeze(p.c as JsonValue),
      recipients,
      policy: p.p,
      requested: p.q,
      idempotencyKey: p.k,
    });
  }
}
