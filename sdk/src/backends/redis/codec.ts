import { asStorageFailure, MessageBusError } from '../../core/errors.js';
import type { JsonValue, MessageDraft, StoredMessage } from '../../core/types.js';
import { deepFreeze } from '../../core/validate.js';
import { draftIdempotencyField, EpochCache, storedMessage } from '../kit/index.js';
import { NAME } from './options.js';

/** The JSON body stored after the head line: short keys, the content last (already serialised by the bus). */
interface Body {
  t: number;
  s: string;
  p: string;
  q: string[] | null;
  k?: string;
  c: unknown;
}

/**
 * Turns drafts into the append script's arguments and stored `<head>\n<body>` values back into messages.
 * A broadcast's head names its audience epoch; the epoch's member list is read once and cached for good
 * (epochs never change), so decoding a broadcast costs no round trip after the first.
 */
export class MessageCodec {
  /** Epoch member lists (and their everyone-but-the-sender lists): immutable, so an entry is only ever evicted, never wrong. */
  readonly #epochs = new EpochCache();
  /** The epoch whose list this process last saw per room, so the append script sends it only when it changes. */
  readonly #knownEpoch = new Map<string, string>();

  /** The append script's ARGV after the room prefix (see scripts/append.ts). */
  appendArgs(room: string, draft: MessageDraft, maxMessages: number, writerId: string, routedVersion: string): string[] {
    const kind = draft.audience === 'list' ? 'l' : draft.audience === 'members' ? 'm' : 'x';
    let body = `{"t":${draft.timestamp},"s":${JSON.stringify(draft.sender)},"p":${JSON.stringify(draft.routing.policy)},"q":${JSON.stringify(draft.routing.requested)}`;
    if (draft.idempotencyKey !== undefined) body += `,"k":${JSON.stringify(draft.idempotencyKey)}`;
    body += `,"c":${draft.contentJson}}`;
    const idem = draftIdempotencyField(draft) ?? '';
    return [
      draft.sender,
      kind,
      kind === 'l' ? draft.recipients.join(',') : '',
      idem,
      String(maxMessages),
      body,
      String(draft.timestamp),
      this.#knownEpoch.get(room) ?? '',
      writerId,
      routedVersion,
    ];
  }

  /** Records the audience list an append returned (it does when the room's epoch is new to this process). */
  learnEpoch(room: string, value: string, list: string): void {
    const epoch = value.slice(1, value.indexOf('\n'));
    this.remember(room, epoch, list);
    this.#knownEpoch.set(room, epoch);
  }

  /** Caches an epoch's member list as stored (`epl:<n>`: ids, comma-separated). */
  remember(room: string, epoch: string, list: string): void {
    this.#epochs.put(room, epoch, list === '' ? [] : list.split(','));
  }

  /** The epoch a stored broadcast value names, or `undefined` for a list audience. */
  epochOf(value: string): string | undefined {
    return value[0] === 'L' ? undefined : value.slice(1, value.indexOf('\n'));
  }

  /** Drops everything cached: after a reconnect, Redis may have lost its data and numbers epochs afresh. */
  forget(): void {
    this.#epochs.clear();
    this.#knownEpoch.clear();
  }

  /**
   * A stored value as a `StoredMessage`; a value that does not parse is `STORAGE_FAILURE`. `readEpoch` fetches
   * an audience this process has not cached yet.
   */
  async decode(room: string, id: number, value: string, readEpoch: (epoch: string) => Promise<string | null>): Promise<StoredMessage> {
    try {
      const message = this.parse(room, id, value);
      if (message) return message;
      const epoch = this.epochOf(value) as string;
      const list = await readEpoch(epoch);
      if (list === null) {
        throw new MessageBusError('STORAGE_FAILURE', `[${NAME}] the audience of a broadcast in room "${room}" is missing (epoch ${epoch})`);
      }
      this.remember(room, epoch, list);
      return this.parse(room, id, value) as StoredMessage;
    } catch (error) {
      throw asStorageFailure(NAME, `reading message ${id} of room "${room}"`, error);
    }
  }

  /** The message, or `undefined` when it is a broadcast to an audience not in the cache. Throws on a bad value. */
  parse(room: string, id: number, value: string): StoredMessage | undefined {
    const newline = value.indexOf('\n');
    const head = value.slice(0, newline);
    let recipients: readonly string[] | undefined;
    let body: Body | undefined;
    if (head[0] === 'L') recipients = Object.freeze(head.length === 1 ? [] : head.slice(1).split(','));
    else {
      const epoch = this.#epochs.get(room, head.slice(1));
      if (!epoch) return undefined;
      if (head[0] === 'M') recipients = epoch.recipients(null);
      else {
        body = JSON.parse(value.slice(newline + 1)) as Body;
        recipients = epoch.recipients(body.s);
      }
    }
    body ??= JSON.parse(value.slice(newline + 1)) as Body;
    return storedMessage(room, {
      id,
      timestamp: body.t,
      sender: body.s,
      content: deepFreeze(body.c as JsonValue),
      recipients,
      policy: body.p,
      requested: body.q,
      idempotencyKey: body.k,
    });
  }
}
