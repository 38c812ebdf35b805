/**
 * The room object's record of its open streams, so that an instance built
 * after a restart or a wake from hibernation knows which streams the last one
 * lost (their text lived in its memory) and can tell their recipients: one
 * row per open stream, written when it starts and deleted when it ends; a
 * stream's deltas write nothing. A lost stream's row is kept, marked with the
 * time it was found lost, for `keepLostMs`, so a recipient that reconnects in
 * that window is told too. Rows live in `chatroom_streams`, beside the
 * backend's `mmb_` tables.
 */
export interface JournalStream {
  id: string;
  sender: string;
  recipients: string[];
}

export class StreamJournal {
  readonly #sql: SqlStorage;
  readonly #keepLostMs: number;
  /** Streams the previous instance lost, by id. */
  readonly #lost = new Map<string, JournalStream & { lostAt: number }>();

  constructor(sql: SqlStorage, keepLostMs: number, now: number) {
    this.#sql = sql;
    this.#keepLostMs = keepLostMs;
    sql.exec(
      'CREATE TABLE IF NOT EXISTS chatroom_streams (id TEXT PRIMARY KEY, sender TEXT NOT NULL, recipients TEXT NOT NULL, lost_at INTEGER) WITHOUT ROWID',
    );
    // This instance has opened no stream yet: every open row belongs to one that is gone.
    sql.exec('UPDATE chatroom_streams SET lost_at = ? WHERE lost_at IS NULL', now);
    this.purge(now);
    for (const row of sql.exec('SELECT id, sender, recipients, lost_at FROM chatroom_streams').toArray()) {
      const id = row.id as string;
      this.#lost.set(id, {
        id,
        sender: row.sender as string,
        recipients: JSON.parse(row.recipients as string),
        lostAt: row.lost_at as number,
      });
    }
  }

  /** Streams found lost, with when; each one is reported to its sockets once when found (`lostAt === now`). */
  lost(): IterableIterator<JournalStream & { lostAt: number }> {
    return this.#lost.values();
  }

  opened(stream: JournalStream): void {
    this.#sql.exec(
      'INSERT OR REPLACE INTO chatroom_streams (id, sender, recipients, lost_at) VALUES (?, ?, ?, NULL)',
      stream.id,
      stream.sender,
      JSON.stringify(stream.recipients),
    );
  }

  closed(id: string): void {
    this.#sql.exec('DELETE FROM chatroom_streams WHERE id = ?', id);
  }

  /** Forgets lost streams older than `keepLostMs`; returns when the next one expires (or `undefined`). */
  purge(now: number): number | undefined {
    this.#sql.exec('DELETE FROM chatroom_streams WHERE lost_at IS NOT NULL AND lost_at < ?', now - this.#keepLostMs);
    let next: number | undefined;
    for (const [id, stream] of this.#lost) {
      if (stream.lostAt < now - this.#keepLostMs) this.#lost.delete(id);
      else next = Math.min(next ?? Number.POSITIVE_INFINITY, stream.lostAt + this.#keepLostMs);
    }
    return next;
  }
}
