import { asStorageFailure, MessageBusError } from '../../core/errors.js';
import type { JsonValue, MessageDraft, MessageMetadata, StoredMessage } from '../../core/types.js';
import { deepFreeze } from '../../core/validate.js';
import { draftIdempotencyField, EpochCache, storedMessage } from '../kit/index.js';
import { NAME } from './options.js';

/**
 * The JSON body stored after the head line: short keys, the content last (already serialised by the bus).
 * `i` and `h` (a reply's inReplyTo and thread) come right after `s`, where the append script finds `h` to fill
 * in; `m` is the metadata, `x` the stream a message ended. Bodies stored before conversations have none of them.
 */
interface Body {
  t: number;
  s: string;
  i?: number;
  h?: number;
  p: string;
  q: string[] | null;
  k?: string;
  m?: MessageMetadata;
  /** The stream the message ended. */
  x?: string;
  c: unknown;
}

/** One message's fields in the append script's ARGV (see `MessageCodec.messageArgs`). */
type MessageFields = [string, string, string, string, string, string, string, string];

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

  /**
   * The append script's ARGV after the room prefix for the first message of a call (see scripts/append.ts; its
   * value is at index 3). `checked`: the sender and every recipient are in the member list of `routedVersion`, so
   * the script needs no membership lookup when that version is still current. `alone`: no other message follows.
   */
  appendArgs(
    room: string,
    draft: MessageDraft,
    maxMessages: number,
    writerId: string,
    routedVersion: string,
    checked = false,
    alone = true,
  ): string[] {
    const [sender, kind, recipients, idem, value, timestamp, version, inReplyTo] = this.messageArgs(room, draft, routedVersion, checked);
    const args = [sender, kind, String(maxMessages), value, timestamp, this.#knownEpoch.get(room) ?? '', writerId, version];
    args.push(recipients, idem, inReplyTo);
    // A lone message leaves out its trailing empty fields (the script reads them as '').
    if (alone) while (args.length > 8 && args.at(-1) === '') args.pop();
    return args;
  }

  /**
   * One message's 8 fields of the append script's ARGV: sender, kind, recipients, idempotency field, the value
   * (`<head>\n<body>`, the head as this process expects it), timestamp, routed version, the id it answers. The first message of a call has them where `appendArgs` puts
   * them; each further one appends them in this order.
   */
  messageArgs(room: string, draft: MessageDraft, routedVersion: string, checked: boolean): MessageFields {
    const kind = draft.audience === 'list' ? 'l' : draft.audience === 'members' ? 'm' : 'x';
    const recipients = kind === 'l' ? draft.recipients.join(',') : '';
    // The stored value as this process expects it: the script keeps it when the head is right (a checked list, or
    // the epoch this process knows), and replaces the head otherwise.
    let value = `${kind === 'l' ? `L${recipients}` : `${kind === 'm' ? 'M' : 'X'}${this.#knownEpoch.get(room) ?? ''}`}\n`;
    value += `{"t":${draft.timestamp},"s":${JSON.stringify(draft.sender)}`;
    // The thread is written by the script (`"h":0` is its placeholder): only it can read the parent atomically.
    if (draft.inReplyTo !== undefined) value += `,"i":${draft.inReplyTo},"h":0`;
    value += `,"p":${JSON.stringify(draft.routing.policy)},"q":${JSON.stringify(draft.routing.requested)}`;
    if (draft.idempotencyKey !== undefined) value += `,"k":${JSON.stringify(draft.idempotencyKey)}`;
    if (draft.metadataJson !== undefined) value += `,"m":${draft.metadataJson}`;
    if (draft.streamId !== undefined) value += `,"x":${JSON.stringify(draft.streamId)}`;
    value += `,"c":${draft.contentJson}}`;
    return [
      draft.sender,
      checked && routedVersion !== '' ? kind.toUpperCase() : kind,
      recipients,
      draftIdempotencyField(draft) ?? '',
      value,
      String(draft.timestamp),
      routedVersion,
      draft.inReplyTo === undefined ? '' : String(draft.inReplyTo),
    ];
  }

  /** The value a stored message has: the script returns '' when it kept the one the client sent, else the value. */
  storedValue(text: string, sent: string): string {
    return text === '' ? sent : text;
  }

  /** Records the audience list an append returned (it does when the room's epoch is new to this process). */
  learnEpoch(room: string, epoch: string, list: string): void {
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
      inReplyTo: body.i,
      thread: body.h,
      metadata: body.m === undefined ? undefined : deepFreeze(body.m),
      streamId: body.x,
    });
  }
}
