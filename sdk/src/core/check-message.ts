/**
 * What a `Message` must be before the bus routes it: each field read exactly
 * once (a getter or Proxy trap that throws is a typed error, and a caller who
 * changes its object after the call changes nothing), then checked and
 * copied. Every refusal here happens before anything is read from storage.
 */
import { checkInReplyTo, copyMetadata } from './conversation.js';
import { MessageBusError } from './errors.js';
import { soleList } from './frozen-lists.js';
import type { Message, MessageOptions } from './message.js';
import type { JsonValue, MessageMetadata } from './types.js';
import { copyContentWithin, isValidId, isValidRecipient, isWellFormed, snapshotIds } from './validate.js';

const MAX_RECIPIENTS = 1000;
const MAX_IDEMPOTENCY_KEY = 256;

/** The bus's limits that apply to one message. */
export interface MessageLimits {
  maxContentBytes: number;
  maxContentDepth: number;
  maxMetadataBytes: number;
}

/** A message as the bus routes it: its fields read once, checked, with frozen copies and their JSON. */
export interface CheckedMessage {
  sender: string;
  recipients: readonly string[] | undefined;
  idempotencyKey: string | undefined;
  content: JsonValue;
  /** `JSON.stringify(content)` when the size check made it; `undefined` when content was small enough not to need it. */
  contentJson: string | undefined;
  inReplyTo: number | undefined;
  metadata: { copy: MessageMetadata; json: string } | undefined;
}

/** Reads and checks `message`; throws the typed error of the first thing wrong with it. */
export function checkMessage(message: Message, limits: MessageLimits): CheckedMessage {
  // Any object will do (its fields are read below), so no `instanceof`: optimised code embeds the class's hidden
  // class for it, and is thrown away whenever a full GC finds no message alive.
  if (typeof message !== 'object' || message === null) {
    throw new MessageBusError('INVALID_MESSAGE', 'sendMessage needs a Message: new Message(sender, content, recipients?)');
  }
  // Read here, not through readInput: no closure and no object per send on the hot path.
  let sender: unknown;
  let requested: unknown;
  let content: unknown;
  let options: unknown;
  try {
    sender = message.sender;
    requested = message.recipients;
    content = message.content;
    options = message.options;
  } catch (error) {
    throw unreadable('INVALID_MESSAGE', 'the message', error);
  }
  if (!isValidId(sender)) {
    throw new MessageBusError('INVALID_MESSAGE', 'sender must be an agent id: 1-128 characters of letters, digits and "._:-"');
  }
  const recipients = requested === undefined ? undefined : frozenRecipients(requested);
  let idempotencyKey: unknown;
  let replyTo: unknown;
  let rawMetadata: unknown;
  if (options !== undefined && options !== null) {
    try {
      const read = options as MessageOptions;
      idempotencyKey = read.idempotencyKey;
      replyTo = read.inReplyTo;
      rawMetadata = read.metadata;
    } catch (error) {
      throw unreadable('INVALID_MESSAGE', 'the message options', error);
    }
  }
  if (
    idempotencyKey !== undefined &&
    (typeof idempotencyKey !== 'string' ||
      idempotencyKey.length < 1 ||
      idempotencyKey.length > MAX_IDEMPOTENCY_KEY ||
      !isWellFormed(idempotencyKey))
  ) {
    throw new MessageBusError(
      'INVALID_MESSAGE',
      `idempotencyKey must be a string of 1-${MAX_IDEMPOTENCY_KEY} characters without lone surrogates`,
    );
  }
  if (content === undefined) throw new MessageBusError('INVALID_MESSAGE', 'content is missing: pass any JSON value');
  const { copy, json: contentJson } = copyContentWithin(content, limits.maxContentDepth, limits.maxContentBytes, 'content');
  const inReplyTo = checkInReplyTo(replyTo);
  const metadata = copyMetadata(rawMetadata, limits.maxMetadataBytes, limits.maxContentDepth);
  return { sender, recipients, idempotencyKey, content: copy, contentJson, inReplyTo, metadata };
}

/** The checked, frozen snapshot of the requested recipients; a list of one is the shared `soleList`. */
function frozenRecipients(requested: unknown): readonly string[] {
  const ids = snapshotIds(requested, 'recipients', MAX_RECIPIENTS, 'INVALID_MESSAGE', undefined, isValidRecipient);
  return ids.length === 1 ? soleList(ids[0] as string) : Object.freeze(ids);
}

/** Reads caller input through `read`; a getter or Proxy trap that throws there is a typed `code` error, not a crash. */
export function readInput<T>(read: () => T, code: 'INVALID_MESSAGE' | 'INVALID_ARGUMENT', what: string): T {
  try {
    return read();
  } catch (error) {
    throw unreadable(code, what, error);
  }
}

function unreadable(code: 'INVALID_MESSAGE' | 'INVALID_ARGUMENT', what: string, error: unknown): MessageBusError {
  const reason = error instanceof Error ? error.message : String(error);
  return new MessageBusError(code, `${what} could not be read: ${reason}`, { cause: error });
}
