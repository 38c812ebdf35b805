/**
 * The storage kit's own-run algorithm over the object's SQLite: the
 * `mmb_own_runs` table, kept by the `mmb_message_own_run` trigger of each
 * append (schema.ts, the kit's `extendsRun` in SQL) and read by the kit's walks
 * through `SqlBroadcastSource`. Each answer is one indexed query.
 */
import type { BroadcastRef, BroadcastSource, OwnRun } from '../kit/index.js';
import type { SqlRow, SqlStorageLike } from './schema.js';

/** Broadcasts of the audiences (epochs) that hold the agent: `mmb_messages_audience` walked per audience, in id order. */
const AGENT_BROADCASTS = `mmb_messages WHERE room = ?1 AND audience IN (SELECT audience FROM mmb_audience_members WHERE room = ?1 AND agent = ?2)`;

export class SqlBroadcastSource implements BroadcastSource {
  readonly #sql: SqlStorageLike;
  readonly #room: string;

  constructor(sql: SqlStorageLike, room: string) {
    this.#sql = sql;
    this.#room = room;
  }

  ownRuns(agent: string, after: number, limit: number): OwnRun[] {
    // The run holding `after` starts at or before it; the rest start after it.
    return this.#rows(
      `SELECT first_id, last_id FROM mmb_own_runs
       WHERE room = ?1 AND sender = ?2 AND last_id > ?3
         AND first_id >= COALESCE((SELECT MAX(first_id) FROM mmb_own_runs WHERE room = ?1 AND sender = ?2 AND first_id <= ?3), 0)
       ORDER BY first_id LIMIT ?4`,
      agent,
      after,
      limit,
    ).map(toRun);
  }

  broadcasts(agent: string, after: number, before: number, limit: number): BroadcastRef[] {
    if (before <= after + 1) return [];
    // Audience numbers grow with ids, so (audience, id) order is id order, and each audience's range stops at `before`.
    return this.#rows(
      `SELECT id, excluded FROM ${AGENT_BROADCASTS} AND id > ?3 AND id < ?4 ORDER BY audience, id LIMIT ?5`,
      agent,
      after,
      Number.isFinite(before) ? before : Number.MAX_SAFE_INTEGER,
      limit,
    ).map(toRef);
  }

  broadcastBefore(agent: string, before: number): BroadcastRef | undefined {
    const [row] = this.#rows(
      `SELECT id, excluded FROM ${AGENT_BROADCASTS} AND id < ?3 ORDER BY audience DESC, id DESC LIMIT 1`,
      agent,
      Number.isFinite(before) ? before : Number.MAX_SAFE_INTEGER,
    );
    return row && toRef(row);
  }

  ownRunAt(agent: string, id: number): OwnRun | undefined {
    const [row] = this.#rows(
      'SELECT first_id, last_id FROM mmb_own_runs WHERE room = ?1 AND sender = ?2 AND first_id <= ?3 ORDER BY first_id DESC LIMIT 1',
      agent,
      id,
    );
    return row && toRun(row);
  }

  #rows(query: string, ...bindings: unknown[]): SqlRow[] {
    return this.#sql.exec(query, this.#room, ...bindings).toArray();
  }
}

/** Drops the runs that lie wholly below `oldestId`, for the senders whose broadcasts retention is about to remove. */
export function trimOwnRuns(sql: SqlStorageLike, room: string, oldestId: number): void {
  const senders = sql
    .exec('SELECT DISTINCT excluded FROM mmb_messages WHERE room = ? AND id < ? AND excluded IS NOT NULL', room, oldestId)
    .toArray();
  for (const { excluded } of senders) {
    sql.exec('DELETE FROM mmb_own_runs WHERE room = ? AND sender = ? AND first_id < ? AND last_id < ?', room, excluded, oldestId, oldestId);
  }
}

function toRun(row: SqlRow): OwnRun {
  return { first: row.first_id as number, last: row.last_id as number };
}

function toRef(row: SqlRow): BroadcastRef {
  return { id: row.id as number, excluded: (row.excluded as string | null) ?? null };
}
