/**
 * The PartyServer peer of bench/edge-peers.mjs: the least a chat room built
 * on PartyServer does for the same frames the bus's WebSocket takes. Each
 * `{"type":"send","ref":…,"content":…}` is inserted into SQLite
 * (`INSERT … RETURNING id`), answered `{"type":"ok","ref":…,"id":…}`, and
 * broadcast once-stringified to every other connection. No auth, no member
 * list, no cursor, no replay, no idempotency: what the table notes list.
 */
import { type Connection, Server, type WSMessage } from 'partyserver';
import { countSql } from './counters.js';

export class PeerRoom extends Server {
  static override options = { hibernate: true };

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    countSql(ctx.storage);
    super(ctx, env);
  }

  override onStart(): void {
    this.ctx.storage.sql.exec(
      'CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, sender TEXT NOT NULL, content TEXT NOT NULL, at INTEGER NOT NULL)',
    );
  }

  override onMessage(connection: Connection, message: WSMessage): void {
    if (typeof message !== 'string') return;
    const frame = JSON.parse(message) as { ref?: unknown; content?: unknown };
    const at = Date.now();
    const content = JSON.stringify(frame.content ?? null);
    const { id } = this.ctx.storage.sql
      .exec<{ id: number }>('INSERT INTO messages (sender, content, at) VALUES (?, ?, ?) RETURNING id', connection.id, content, at)
      .one();
    connection.send(JSON.stringify({ type: 'ok', ref: frame.ref ?? null, id }));
    this.broadcast(JSON.stringify({ type: 'message', id, sender: connection.id, at, content: frame.content ?? null }), [connection.id]);
  }
}
