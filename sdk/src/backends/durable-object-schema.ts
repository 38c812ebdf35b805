/**
 * The SQLite schema of `DurableObjectStorageBackend` and the minimal shape of
 * `ctx.storage.sql` it relies on (typed structurally: the SDK imports nothing
 * from `cloudflare:*`).
 */

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
 * - `mmb_messages.audience` is null for messages stored with their own
 *   recipient list (`recipients`, JSON) and otherwise names the membership
 *   snapshot in `mmb_audiences`; `excluded` is the sender of a
 *   members-except-sender broadcast.
 * - `mmb_audience_members` is the per-agent index of those snapshots and
 *   `mmb_deliveries` the per-recipient index of listed messages.
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
