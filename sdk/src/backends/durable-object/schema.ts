/**
 * The SQLite schema of `DurableObjectStorageBackend`, its one migration, and
 * the minimal shape of `ctx.storage.sql` it relies on (typed structurally: the
 * SDK imports nothing from `cloudflare:*`).
 */
import { RunBuilder } from '../kit/index.js';

/** One result row: column name to value. */
export type SqlRow = Record<string, unknown>;

/** What `SqlStorage.exec` returns, as far as the backend uses it. */
export interface SqlCursorLike {
  toArray(): SqlRow[];
  readonly rowsWritten: number;
}

/** The `exec` method of a Durable Object's `ctx.storage.sql`. */
export interface SqlStorageLike {
  exec(query: string, ...bindings: unknown[]): SqlCursorLike;
}

/**
 * Tables are prefixed `mmb_` so they can share an object's database with the
 * application's own tables. `WITHOUT ROWID` keeps each table clustered on the
 * key its hot query walks.
 *
 * - `mmb_rooms.last_id` is the settled id (settled.ts): the members' `sent_count` and `last_sent_at` count the
 *   messages up to it; the room's last id is its highest stored message id.
 * - `mmb_messages.audience` is null for messages stored with their own
 *   recipient list (`recipients`, JSON) and otherwise names the membership
 *   snapshot in `mmb_audiences`; `excluded` is the sender of a
 *   members-except-sender broadcast.
 * - `mmb_audience_members` is the per-agent index of those snapshots and
 *   `mmb_deliveries` the per-recipient index of listed messages.
 * - `mmb_own_runs` (added by `migrate`) holds each sender's own runs (see the
 *   storage kit's own-runs.ts), so a fetch jumps over them.
 * - `mmb_messages.in_reply_to`, `thread` and `metadata` (added by `migrate`,
 *   null in rows written before): a reply's parent and thread root (a message
 *   that answers nothing has no `thread`: it is its own), and the metadata as
 *   JSON. The partial index `mmb_messages_thread` lists each thread's replies.
 * - `mmb_messages.stream_id` (added by `migrate`): the stream a message ended, null otherwise.
 *
 * An "audience" here is an epoch: the room's membership between two joins or
 * leaves (the column names predate that name and stay as they are).
 */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS mmb_rooms (
  room TEXT PRIMARY KEY,
  last_id INTEGER NOT NULL,
  oldest_id INTEGER NOT NULL,
  audience INTEGER NOT NULL,
  audience_valid INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mmb_members (
  room TEXT NOT NULL,
  agent TEXT NOT NULL,
  online INTEGER NOT NULL,
  group_names TEXT NOT NULL,
  joined_after INTEGER NOT NULL,
  acked INTEGER NOT NULL DEFAULT 0,
  sent_count INTEGER NOT NULL DEFAULT 0,
  last_sent_at INTEGER,
  PRIMARY KEY (room, agent)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mmb_messages (
  room TEXT NOT NULL,
  id INTEGER NOT NULL,
  timestamp INTEGER NOT NULL,
  sender TEXT NOT NULL,
  content TEXT NOT NULL,
  recipients TEXT,
  audience INTEGER,
  excluded TEXT,
  policy TEXT NOT NULL,
  requested TEXT,
  idem TEXT,
  PRIMARY KEY (room, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS mmb_messages_idem ON mmb_messages (room, sender, idem) WHERE idem IS NOT NULL;
CREATE INDEX IF NOT EXISTS mmb_messages_audience ON mmb_messages (room, audience, id, excluded);
CREATE TABLE IF NOT EXISTS mmb_audiences (
  room TEXT NOT NULL,
  audience INTEGER NOT NULL,
  members TEXT NOT NULL,
  PRIMARY KEY (room, audience)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mmb_audience_members (
  room TEXT NOT NULL,
  agent TEXT NOT NULL,
  audience INTEGER NOT NULL,
  PRIMARY KEY (room, agent, audience)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mmb_deliveries (
  room TEXT NOT NULL,
  agent TEXT NOT NULL,
  id INTEGER NOT NULL,
  PRIMARY KEY (room, agent, id)
) WITHOUT ROWID;
`;

/** Added after the tables above: created (and filled from the broadcasts already stored) by `migrate`. */
export const OWN_RUNS_TABLE = `
CREATE TABLE IF NOT EXISTS mmb_own_runs (
  room TEXT NOT NULL,
  sender TEXT NOT NULL,
  first_id INTEGER NOT NULL,
  last_id INTEGER NOT NULL,
  PRIMARY KEY (room, sender, first_id)
) WITHOUT ROWID;
`;

/** The conversation columns, added to `mmb_messages` by `migrate` (an ALTER keeps the rows as they are). */
const CONVERSATION_COLUMNS = ['in_reply_to INTEGER', 'thread INTEGER', 'metadata TEXT', 'stream_id TEXT'];
const THREAD_INDEX = 'CREATE INDEX IF NOT EXISTS mmb_messages_thread ON mmb_messages (room, thread, id) WHERE thread IS NOT NULL';

/**
 * What follows the INSERT of a message, folded into that one statement so an
 * append is one SQL statement, atomic without a transaction of its own:
 *
 * - for a message with its own list (`audience` null), one `mmb_deliveries` row per recipient of `recipients`;
 * - for a members-except-sender broadcast, the sender's own run (`mmb_own_runs`), by the storage kit's
 *   `extendsRun` (kit/own-runs.ts): the latest run of the sender grows when it ends at the room's previous
 *   broadcast, otherwise a run `{ id, id }` starts. The previous broadcast is the last retained one before the
 *   new id: in the new message's epoch, or else the last of the latest epoch before it (epoch numbers grow with
 *   ids); each is one lookup in `mmb_messages_audience`.
 *
 * The room head and the sender's stats are not written per append: see settled.ts (`HEAD_TRIGGER`, which did,
 * is dropped by `migrate`). Tables and columns are those of version 1. Code from before these triggers writes
 * the same rows itself, and code from before settled.ts expects `mmb_rooms.last_id` to be the last id: neither
 * can run on a database this version has written to.
 */
export const APPEND_TRIGGERS = `
CREATE TRIGGER IF NOT EXISTS mmb_message_deliveries AFTER INSERT ON mmb_messages WHEN NEW.audience IS NULL BEGIN
  INSERT OR IGNORE INTO mmb_deliveries (room, agent, id) SELECT NEW.room, value, NEW.id FROM json_each(NEW.recipients);
END;
CREATE TRIGGER IF NOT EXISTS mmb_message_own_run AFTER INSERT ON mmb_messages WHEN NEW.excluded IS NOT NULL BEGIN
  UPDATE mmb_own_runs SET last_id = NEW.id
  WHERE room = NEW.room AND sender = NEW.excluded
    AND first_id = (SELECT first_id FROM mmb_own_runs WHERE room = NEW.room AND sender = NEW.excluded ORDER BY first_id DESC LIMIT 1)
    AND last_id = COALESCE(
      (SELECT MAX(id) FROM mmb_messages WHERE room = NEW.room AND audience = NEW.audience AND id < NEW.id),
      (SELECT MAX(id) FROM mmb_messages WHERE room = NEW.room AND audience =
        (SELECT MAX(audience) FROM mmb_messages WHERE room = NEW.room AND audience < NEW.audience)));
  INSERT INTO mmb_own_runs (room, sender, first_id, last_id)
  SELECT NEW.room, NEW.excluded, NEW.id, NEW.id
  WHERE NOT EXISTS (SELECT 1 FROM (SELECT last_id FROM mmb_own_runs WHERE room = NEW.room AND sender = NEW.excluded
                                   ORDER BY first_id DESC LIMIT 1) WHERE last_id = NEW.id);
END;
`;

/** The per-append head trigger of earlier versions, dropped by `migrate`: its tables then read as settled (settled.ts). */
export const HEAD_TRIGGER = 'mmb_message_head';

/**
 * Brings the object's database to the current schema, in one transaction:
 * creates missing tables and the append triggers (dropping `HEAD_TRIGGER`) and, when `mmb_own_runs` is new to a database that
 * already holds rooms, builds it from the stored broadcasts (the kit's `RunBuilder`).
 * Adds the conversation columns (and `stream_id`) and their index where they are missing: rows
 * from before keep nulls there, which read back as messages that answer
 * nothing (their own threads).
 */
export function migrate(sql: SqlStorageLike): void {
  migrateRuns(sql);
  const [table] = sql.exec("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'mmb_messages'").toArray();
  const ddl = String(table?.sql ?? '');
  for (const column of CONVERSATION_COLUMNS) {
    if (!new RegExp(`\\b${column.split(' ')[0]}\\b`).test(ddl)) sql.exec(`ALTER TABLE mmb_messages ADD COLUMN ${column}`);
  }
  sql.exec(THREAD_INDEX);
}

function migrateRuns(sql: SqlStorageLike): void {
  const tables = new Set(
    sql
      .exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('mmb_rooms', 'mmb_own_runs')")
      .toArray()
      .map((row) => row.name as string),
  );
  sql.exec(SCHEMA);
  sql.exec(OWN_RUNS_TABLE);
  // The trigger that wrote the head and the sender's stats with every append (settled.ts does it in batches).
  sql.exec(`DROP TRIGGER IF EXISTS ${HEAD_TRIGGER}`);
  sql.exec(APPEND_TRIGGERS);
  if (!tables.has('mmb_rooms') || tables.has('mmb_own_runs')) return;
  const runs = new RunBuilder((room, sender, run) =>
    sql.exec('INSERT INTO mmb_own_runs (room, sender, first_id, last_id) VALUES (?, ?, ?, ?)', room, sender, run.first, run.last),
  );
  // Broadcast rows in id order per room (the audience index: its numbers grow with ids).
  for (const row of sql
    .exec('SELECT room, id, excluded FROM mmb_messages WHERE audience IS NOT NULL ORDER BY room, audience, id')
    .toArray()) {
    runs.add(row.room as string, { id: row.id as number, excluded: (row.excluded as string | null) ?? null });
  }
  runs.finish();
}
