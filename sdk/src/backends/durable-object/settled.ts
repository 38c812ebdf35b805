/**
 * The room head and member stats of `DurableObjectStorageBackend`, written
 * in batches rather than with every append. An append writes the message row
 * and its index entries only; `mmb_rooms.last_id` is the *settled* id: the
 * members' `sent_count` and `last_sent_at` count every message up to it, and
 * the messages above it (the tail, fewer than `SETTLE_EVERY`) are counted when
 * read. The room's real last id is the highest stored message id (retention
 * keeps the newest message), or `last_id` when none is stored.
 *
 * Every `SETTLE_EVERY` appends, and before retention would delete a message of
 * the tail, the append settles: it adds the tail to the stats and moves
 * `last_id` up, in its transaction. The backend keeps the tail's counts in
 * memory as it appends (`TailStats` by agent), read once from the tail when it
 * has none (a new instance), so neither a settlement nor a stats read scans. A database written with the head updated
 * by every append (by earlier versions) has an empty tail: it reads the same.
 */
import type { SqlRow, SqlStorageLike } from './schema.js';

/** Appends between two settlements: the most a stats read scans, and one settlement's work. */
export const SETTLE_EVERY = 256;

/**
 * The tail's counts per sender: messages above `settled`, each counted for its sender's current membership
 * only (a message at or below `joined_after` was sent under an earlier membership of a removed agent).
 * `at` is the timestamp of the sender's latest message (SQLite takes a bare column from the row of `MAX`).
 */
const TAIL = `SELECT m.sender AS agent, COUNT(*) AS sent, MAX(m.id) AS last, m.timestamp AS at
  FROM mmb_messages m JOIN mmb_members u ON u.room = m.room AND u.agent = m.sender
  WHERE m.room = ?1 AND m.id > ?2 AND m.id > u.joined_after
  GROUP BY m.sender`;

/** What the tail adds to a member's stats. */
export interface TailStats {
  sent: number;
  at: number;
}

/** The stats the messages above `settled` add, by agent (one scan of the tail by the primary key). */
export function tailStats(sql: SqlStorageLike, room: string, settled: number): Map<string, TailStats> {
  const out = new Map<string, TailStats>();
  for (const row of sql.exec(TAIL, room, settled).toArray() as SqlRow[]) {
    out.set(row.agent as string, { sent: row.sent as number, at: row.at as number });
  }
  return out;
}

/** Counts one more message of `agent` in `tail`. */
export function countInTail(tail: Map<string, TailStats>, agent: string, at: number): void {
  const stats = tail.get(agent);
  if (stats) {
    stats.sent++;
    stats.at = at;
  } else {
    tail.set(agent, { sent: 1, at });
  }
}

/** Adds `tail` (every message above the settled id, up to `through`) to the stats and settles the room at `through`. */
export function settle(sql: SqlStorageLike, room: string, tail: ReadonlyMap<string, TailStats>, through: number): void {
  for (const [agent, { sent, at }] of tail) {
    sql.exec('UPDATE mmb_members SET sent_count = sent_count + ?, last_sent_at = ? WHERE room = ? AND agent = ?', sent, at, room, agent);
  }
  sql.exec('UPDATE mmb_rooms SET last_id = ? WHERE room = ?', through, room);
}

/** The head row with the room's real last id (`max_id`: the highest stored message id, null when none is). */
export const HEAD_QUERY = `SELECT last_id, oldest_id, audience, audience_valid,
  (SELECT MAX(id) FROM mmb_messages WHERE room = ?1) AS max_id FROM mmb_rooms WHERE room = ?1`;
