/** Reads the composer's fields into a send request. */
import type { JsonValue, SendRequest } from '../api/types.js';

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

export function parseRecipients(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/[,\s]+/)
        .map((r) => r.trim().replace(/^#/, ''))
        .filter(Boolean),
    ),
  ];
}

export function buildSendRequest(fields: { sender: string; recipients: string; content: string; idempotencyKey: string }): SendRequest {
  const recipients = parseRecipients(fields.recipients);
  return {
    sender: fields.sender,
    content: parseContent(fields.content),
    ...(recipients.length ? { recipients } : {}),
    ...(fields.idempotencyKey.trim() ? { idempotencyKey: fields.idempotencyKey.trim() } : {}),
  };
}
