/**
 * Which members an MCP session joined, in the room object's SQLite
 * (`mcp_presence`): `online = 1` while a session holds the agent online, 0
 * once it went idle or its session ended. It outlives the sessions (they are
 * in memory), so a restarted object knows whom to take offline, and the room
 * API can say that a member came through MCP.
 */
export class McpPresenceTable {
  readonly #sql: SqlStorage;
  readonly #rows: Map<string, boolean>;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    sql.exec('CREATE TABLE IF NOT EXISTS mcp_presence (agent TEXT PRIMARY KEY, online INTEGER NOT NULL) WITHOUT ROWID');
    const rows = sql.exec('SELECT agent, online FROM mcp_presence').toArray();
    this.#rows = new Map(rows.map((row) => [row.agent as string, row.online === 1]));
  }

  /** `true`: held online by a session; `false`: joined through MCP, now offline; `undefined`: never through MCP. */
  get(agent: string): boolean | undefined {
    return this.#rows.get(agent);
  }

  /** Agents a session held online. */
  online(): string[] {
    return [...this.#rows].filter(([, online]) => online).map(([agent]) => agent);
  }

  /** Records a join (`true`), going offline (`false`) or leaving the room (`null`). */
  set(agent: string, online: boolean | null): void {
    if (online === null) {
      if (!this.#rows.delete(agent)) return;
      this.#sql.exec('DELETE FROM mcp_presence WHERE agent = ?', agent);
      return;
    }
    if (this.#rows.get(agent) === online) return;
    this.#rows.set(agent, online);
    this.#sql.exec('INSERT OR REPLACE INTO mcp_presence (agent, online) VALUES (?, ?)', agent, online ? 1 : 0);
  }
}
