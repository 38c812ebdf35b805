/**
 * The errors a backend raises itself, in the same words whatever the medium:
 * each message starts with the backend's name in brackets.
 */
import { MessageBusError } from '../../core/errors.js';

/** `CLOSED`: a call after `close()`. */
export function closedError(backend: string): MessageBusError {
  return new MessageBusError('CLOSED', `[${backend}] the storage backend is closed`);
}

/** `UNKNOWN_AGENT`: the agent is not a member of the room (a sender at append time, a fetching or acking agent). */
export function unknownAgent(backend: string, agentId: string, room: string): MessageBusError {
  return new MessageBusError('UNKNOWN_AGENT', `[${backend}] agent "${agentId}" is not a member of room "${room}"`);
}

/** `CURSOR_EXPIRED`, carrying the oldest id still available so the caller can resume from it. */
export function cursorExpired(backend: string, room: string, from: number, oldestId: number): MessageBusError {
  return new MessageBusError(
    'CURSOR_EXPIRED',
    `[${backend}] messages after ${from} in room "${room}" were trimmed by retention; the oldest still available is ${oldestId}: fetch from ${oldestId - 1} to continue`,
    { details: { oldestId } },
  );
}

/** Checks the `maxMessages` option every backend takes: a positive integer, or `undefined` to keep everything. */
export function checkMaxMessages(backend: string, maxMessages: number | undefined): number | undefined {
  if (maxMessages !== undefined && (!Number.isInteger(maxMessages) || maxMessages < 1)) {
    throw new MessageBusError('INVALID_ARGUMENT', `[${backend}] maxMessages must be a positive integer; got ${maxMessages}`);
  }
  return maxMessages;
}
