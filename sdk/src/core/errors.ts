/** Every code a `MessageBusError` can carry. The HTTP API maps each to a status. */
export const ERROR_CODES = [
  'INVALID_MESSAGE',
  'CONTENT_TOO_LARGE',
  'UNKNOWN_AGENT',
  'AGENT_OFFLINE',
  'UNKNOWN_RECIPIENT',
  'UNKNOWN_GROUP',
  'ROUTING_FAILED',
  'INVALID_ARGUMENT',
  'CURSOR_EXPIRED',
  'STORAGE_FAILURE',
  'CLOSED',
  // Raised by the edge worker and the remote client only.
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'ROOM_FULL',
  'RATE_LIMITED',
  'MISCONFIGURED',
] as const;

/** A `MessageBusError` code. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Extra facts an error carries, e.g. `oldestId` for `CURSOR_EXPIRED`. */
export type ErrorDetails = Record<string, unknown>;

/**
 * The one error class of the library. `code` is stable and meant for programs;
 * `message` says what went wrong and what to do about it; `cause` keeps the
 * underlying error (a Redis timeout, a quota error) when there is one.
 *
 * @example
 * ```ts
 * try { await bus.sendMessage(msg); }
 * catch (err) { if (err instanceof MessageBusError && err.code === 'AGENT_OFFLINE') await bus.connectAgent(msg.sender); }
 * ```
 */
export class MessageBusError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: ErrorDetails } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MessageBusError';
    this.code = code;
    this.details = options.details ?? {};
  }

  /** The JSON shape the HTTP API uses: `{ error: { code, message, ...details } }`. */
  toJSON(): { error: { code: ErrorCode; message: string } & ErrorDetails } {
    return { error: { ...this.details, code: this.code, message: this.message } };
  }

  /** `true` when `value` is a `MessageBusError`, optionally with the given code. Works across bundled copies of the library. */
  static is(value: unknown, code?: ErrorCode): value is MessageBusError {
    if (!(value instanceof Error) || value.name !== 'MessageBusError') return false;
    return code === undefined || (value as MessageBusError).code === code;
  }
}

/** Wraps an unexpected backend failure as `STORAGE_FAILURE`, keeping typed errors as they are. */
export function asStorageFailure(backend: string, operation: string, error: unknown): MessageBusError {
  if (MessageBusError.is(error)) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new MessageBusError('STORAGE_FAILURE', `[${backend}] ${operation} failed: ${reason}`, { cause: error });
}

/**
 * What `StorageBackend.append` throws when `MessageDraft.members`, the list the message was routed with, is no
 * longer the room's member list (another process changed it meanwhile): nothing was stored, and the bus routes
 * the message again on a fresh list. It is a `STORAGE_FAILURE` (retryable) should it ever reach a caller of
 * `append` other than the bus.
 */
export function membersChanged(backend: string, room: string): MessageBusError {
  return new MessageBusError(
    'STORAGE_FAILURE',
    `[${backend}] the members of room "${room}" changed while the message was being routed; nothing was stored: send it again`,
    { details: { membersChanged: true } },
  );
}

/** `true` for the error `membersChanged` makes. */
export function isMembersChanged(error: unknown): boolean {
  return MessageBusError.is(error, 'STORAGE_FAILURE') && error.details.membersChanged === true;
}
