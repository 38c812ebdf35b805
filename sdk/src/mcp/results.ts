import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { type ErrorCode, MessageBusError } from '../core/errors.js';
import type { StoredMessage } from '../core/types.js';

/** A successful tool result: `structuredContent` for programs, a compact text rendering for the model. */
export function ok(structured: Record<string, unknown>, text: string): CallToolResult {
  return { structuredContent: structured, content: [{ type: 'text', text }] };
}

/** What to do next after each refusal, in words a model can act on. */
const NEXT: Partial<Record<ErrorCode, string>> = {
  UNKNOWN_AGENT: 'call join_room first',
  AGENT_OFFLINE: 'call join_room to come back online',
  UNKNOWN_RECIPIENT: 'call list_agents to see who is in the room',
  UNKNOWN_GROUP: 'call list_agents to see the groups and their members',
  INVALID_MESSAGE: 'fix the message and send it again',
  INVALID_ARGUMENT: 'fix the arguments and call again',
  CONTENT_TOO_LARGE: 'send less, for example split it into several messages',
  CURSOR_EXPIRED: 'older messages were trimmed; call fetch_messages without "after" or from the oldest id still kept',
  RATE_LIMITED: 'wait, then call again',
  ROUTING_FAILED: "the room's routing policy could not place this message; try other recipients",
  STORAGE_FAILURE: 'the room is unavailable; try again in a few seconds',
  CLOSED: 'this session has ended; reconnect the MCP client',
  ROOM_FULL: 'the room is full; try again later',
  UNAUTHORIZED: 'the token was refused; get a new one',
  FORBIDDEN: 'this token may not do that',
};

/**
 * A refusal as a tool result (`isError: true`, never a protocol error, so the
 * model sees it): the `MessageBusError` code, what went wrong, what to do next
 * and the error's details, e.g. `UNKNOWN_RECIPIENT: recipient "bob" is not a
 * member of room "lobby"; call list_agents to see who is in the room`.
 */
export function failure(error: unknown): CallToolResult {
  const known = MessageBusError.is(error)
    ? error
    : new MessageBusError('STORAGE_FAILURE', error instanceof Error ? error.message : String(error), { cause: error });
  const next = NEXT[known.code];
  const details = Object.keys(known.details).length > 0 ? ` (${JSON.stringify(known.details)})` : '';
  return { isError: true, content: [{ type: 'text', text: `${known.code}: ${known.message}${next ? `; ${next}` : ''}${details}` }] };
}

/** One line per message: `#12 alice -> bob: hello` (content as text, or its JSON). */
export function renderMessages(messages: readonly StoredMessage[], empty: string): string {
  if (messages.length === 0) return empty;
  return messages.map(renderMessage).join('\n');
}

export function renderMessage(message: StoredMessage): string {
  const to = message.recipients.length === 0 ? 'nobody' : message.recipients.join(', ');
  const content = typeof message.content === 'string' ? message.content : JSON.stringify(message.content);
  return `#${message.id} ${message.sender} -> ${to}: ${content}`;
}
