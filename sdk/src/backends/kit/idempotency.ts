/**
 * The idempotency key scheme: a key is scoped to its sender, so two agents may
 * use the same key. Backends that key a string map (memory, file, Redis's
 * `idem` hash, a batch inside IndexedDB) use this field; the ones with
 * compound keys (IndexedDB's `[room, sender, key]`, SQLite's
 * `(room, sender, idem)` index) store the same pair as two columns.
 */

/** The map field of `key` sent by `sender`: `sender \0 key` (NUL cannot occur in an agent id). */
export function idempotencyField(sender: string, key: string): string {
  return `${sender}\u0000${key}`;
}

/** The field of a draft's key, or `undefined` when the draft has none. */
export function draftIdempotencyField(draft: { sender: string; idempotencyKey?: string | undefined }): string | undefined {
  return draft.idempotencyKey === undefined ? undefined : idempotencyField(draft.sender, draft.idempotencyKey);
}
