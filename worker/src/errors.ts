import { type ErrorCode, MessageBusError } from 'modular-message-bus-library';
import type { ErrorBody } from './contract.js';

export type { ErrorBody, Outcome } from './contract.js';

/** HTTP status of each error code (the table in docs/worker.md). */
export const STATUS: Record<ErrorCode, number> = {
  INVALID_MESSAGE: 400,
  INVALID_ARGUMENT: 400,
  UNKNOWN_RECIPIENT: 400,
  UNKNOWN_GROUP: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  UNKNOWN_AGENT: 404,
  AGENT_OFFLINE: 409,
  ROOM_FULL: 409,
  CURSOR_EXPIRED: 410,
  CONTENT_TOO_LARGE: 413,
  ROUTING_FAILED: 422,
  RATE_LIMITED: 429,
  MISCONFIGURED: 500,
  STORAGE_FAILURE: 503,
  CLOSED: 503,
  // Raised only on the caller's side by `request`, never answered by the worker; listed because the table is total.
  TIMEOUT: 504,
  ABORTED: 499,
};

/** Turns anything thrown into an error body; unexpected errors become `STORAGE_FAILURE` and are logged. */
export function toErrorBody(error: unknown): ErrorBody {
  if (MessageBusError.is(error)) return error.toJSON().error;
  console.error('[mmb-worker] unexpected error:', error);
  const reason = error instanceof Error ? error.message : String(error);
  return { code: 'STORAGE_FAILURE', message: `[mmb-worker] the room failed: ${reason}` };
}

/** A JSON error response with the status of its code (and `Retry-After` for `RATE_LIMITED`). */
export function errorResponse(error: ErrorBody, extraHeaders: Record<string, string> = {}): Response {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...extraHeaders };
  if (error.code === 'RATE_LIMITED' && typeof error.retryAfter === 'number') headers['retry-after'] = String(error.retryAfter);
  return new Response(JSON.stringify({ error }), { status: STATUS[error.code] ?? 500, headers });
}

/** Shorthand for a `MessageBusError`'s body. */
export function fail(code: ErrorCode, message: string, details: Record<string, unknown> = {}): ErrorBody {
  return { ...details, code, message };
}

/** WebSocket close code for an error: 4000 + its HTTP status (4401 unauthorized, 4404 not a member, 4409 room full...). */
export function closeCodeOf(code: ErrorCode): number {
  return 4000 + (STATUS[code] ?? 500);
}

/** The `MessageBusError` of an error body, to throw inside a room's RPC (`toErrorBody` turns it back). */
export function errorOf(body: ErrorBody): MessageBusError {
  const { code, message, ...details } = body;
  return new MessageBusError(code, message, { details });
}
