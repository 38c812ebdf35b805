import { MessageBusError } from '../errors.js';
import { utf8Length } from '../validate.js';

/**
 * The size `maxContentBytes` counts for a stream's text: the UTF-8 bytes of
 * `JSON.stringify(text)`, the rule of a sent message, kept up to date one
 * write at a time. JSON escapes each character on its own, so the sizes of
 * the pieces add up, except for a surrogate pair split between two writes:
 * each half alone is written as a 6-byte `\uXXXX` escape, the joined pair as 4
 * bytes, which `add` corrects.
 */
export class TextJsonSize {
  /** Bytes of `JSON.stringify(text)`: `""` alone is 2. */
  #bytes = 2;
  #endsWithHighSurrogate = false;

  constructor(initial = '') {
    this.add(initial);
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** The size once `piece` is appended, without appending it. */
  with(piece: string): number {
    if (piece.length === 0) return this.#bytes;
    let bytes = this.#bytes + pieceBytes(piece);
    if (this.#endsWithHighSurrogate && isLow(piece.charCodeAt(0))) bytes -= 8;
    return bytes;
  }

  add(piece: string): void {
    if (piece.length === 0) return;
    this.#bytes = this.with(piece);
    this.#endsWithHighSurrogate = isHigh(piece.charCodeAt(piece.length - 1));
  }
}

/** Bytes `piece` adds inside a JSON string. Plain ASCII (the common token) skips the stringify. */
function pieceBytes(piece: string): number {
  if (PLAIN.test(piece)) return piece.length;
  return utf8Length(JSON.stringify(piece)) - 2;
}

/** Printable ASCII but `"` and `\`: written as it is in JSON. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function isHigh(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLow(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** What `admitWrite` needs to know of the stream being written to. */
export interface WritableStream {
  readonly id: string;
  /** Whether `write` may still append (not ending, ended or aborted). */
  readonly writable: boolean;
  readonly size: TextJsonSize;
  /** The byte limit and the name of the setting that sets it, for the error text. */
  readonly limit: { bytes: number; name: string };
  closedError(): MessageBusError;
  /** Aborts the stream with reason `CONTENT_TOO_LARGE`, before the write throws. */
  abortTooLarge(): void;
}

/**
 * The one rule of `write(text)`, for the in-process and the remote stream: `INVALID_ARGUMENT` for a non-string,
 * `CLOSED` once it cannot be written to, and, when the text's JSON would grow past the limit, an abort with reason
 * `CONTENT_TOO_LARGE` and that error. Returns `false` for an empty write (nothing to send); on `true` the size
 * already counts `text`.
 */
export function admitWrite(stream: WritableStream, text: unknown): text is string {
  if (typeof text !== 'string') {
    throw new MessageBusError('INVALID_ARGUMENT', `write() takes a string; got ${text === null ? 'null' : typeof text}`);
  }
  if (!stream.writable) throw stream.closedError();
  if (text.length === 0) return false;
  const size = stream.size.with(text);
  const { bytes: limit, name } = stream.limit;
  if (size > limit) {
    stream.abortTooLarge();
    throw new MessageBusError(
      'CONTENT_TOO_LARGE',
      `stream ${stream.id} would be ${size} bytes of JSON; the limit is ${limit} (${name}): it was aborted`,
      { details: { limit, size } },
    );
  }
  stream.size.add(text);
  return true;
}
