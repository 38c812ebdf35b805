import { DurableObject } from 'cloudflare:workers';
import type { DirectoryRpc } from './contract.js';
import type { Env } from './env.js';

/**
 * The rooms this deployment has seen: one singleton object that each room
 * reports to once, when it is first configured or joined. `GET /v1/rooms` and
 * `/metrics` read it to know which room objects to ask.
 */
export class RoomDirectory extends DurableObject<Env> implements DirectoryRpc {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS rooms (room TEXT PRIMARY KEY, created_at INTEGER NOT NULL) WITHOUT ROWID');
  }

  /** Records a room (idempotent). */
  register(room: string): void {
    this.ctx.storage.sql.exec('INSERT OR IGNORE INTO rooms (room, created_at) VALUES (?, ?)', room, Date.now());
  }

  /** Every room recorded, sorted. */
  list(): string[] {
    return this.ctx.storage.sql
      .exec('SELECT room FROM rooms ORDER BY room')
      .toArray()
      .map((row) => row.room as string);
  }
}
