/** Reads the composer's fields into a send request. */
import type { JsonValue, MessageMetadata, SendRequest, StoredMessage } from '../api/types.js';

/** Content as typed: valid JSON (an object, a number, a quoted string) is sent as that value; anything else as plain text. */
export function parseContent(text: string): JsonValue {
  const trimmed = text.trim();
  if (/^[[{"]|^-?\d|^(true|false|null)$/.test(trimmed)) {
    try {
      return JSON.parse(trimmed) as JsonValue;
    } catch {
      // Not JSON after all: send the text as written.
    }
  }
  return text;
}

/**
 * Names separated by commas or spaces. In an `addressed` room `#name` is a
 * group and a bare name an agent, so the `#` is kept; elsewhere it is only how
 * the dashboard shows a group, and is dropped.
 */
export function parseRecipients(text: string, policy: string | null = null): string[] {
  const keepHash = policy === 'addressed';
  return [
    ...new Set(
      text
        .split(/[,\s]+/)
        .map((r) => (keepHash ? r.trim() : r.trim().replace(/^#/, '')))
        .filter(Boolean),
    ),
  ];
}

/** Metadata as typed: empty for none, else JSON (the worker checks it is an object). Throws a readable error for text that is not JSON. */
export function parseMetadata(text: string): MessageMetadata | undefined {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as MessageMetadata;
  } catch {
    throw new Error('metadata must be JSON, for example {"kind": "tool_call"}');
  }
}

/** How a group is written in the "To" field of a room with this policy. */
export function groupRecipient(group: string, policy: string | null): string {
  return policy === 'addressed' ? `#${group}` : group;
}

export interface ComposerFields {
  sender: string;
  recipients: string;
  content: string;
  idempotencyKey: string;
  /** The message answered, or `null`. */
  inReplyTo: number | null;
  metadata: string;
  policy: string | null;
}

export function buildSendRequest(fields: ComposerFields): SendRequest {
  const recipients = parseRecipients(fields.recipients, fields.policy);
  const metadata = parseMetadata(fields.metadata);
  return {
    sender: fields.sender,
    content: parseContent(fields.content),
    ...(recipients.length ? { recipients } : {}),
    ...(fields.idempotencyKey.trim() ? { idempotencyKey: fields.idempotencyKey.trim() } : {}),
    ...(fields.inReplyTo === null ? {} : { inReplyTo: fields.inReplyTo }),
    ...(metadata === undefined ? {} : { metadata }),
  };
}

/**
 * Who answers a message and to whom, as the composer pre-fills a reply: the
 * first member the message reached (an online one if any) answers its sender
 * directly where the policy names agents, the same groups under subgroup
 * routing, the whole room under broadcast.
 */
export function replyDefaults(
  message: StoredMessage,
  online: ReadonlyMap<string, boolean>,
  policy: string | null,
): { sender: string | null; recipients: string } {
  const reached = message.recipients.filter((id) => id !== message.sender && online.has(id));
  const sender = reached.find((id) => online.get(id)) ?? reached[0] ?? null;
  if (policy === 'subgroup') return { sender, recipients: (message.routing.requested ?? []).join(', ') };
  if (policy === 'broadcast') return { sender, recipients: '' };
  return { sender, recipients: message.sender };
}
