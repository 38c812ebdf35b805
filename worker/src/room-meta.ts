/**
 * What a room object remembers about itself besides the messages: its room id
 * (an object does not know the name it was created from), its routing policy,
 * and whether the directory has recorded it. One row per key in
 * `chatroom_meta`, next to the storage backend's `mmb_` tables.
 */
export class RoomMeta {
  readonly #sql: SqlStorage;
  readonly #values: Map<string, string>;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    sql.exec('CREATE TABLE IF NOT EXISTS chatroom_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID');
    const rows = sql.exec('SELECT key, value FROM chatroom_meta').toArray();
    this.#values = new Map(rows.map((row) => [row.key as string, row.value as string]));
  }

  /** The room id, once the first request named it. */
  get room(): string | undefined {
    return this.#values.get('room');
  }

  set room(room: string) {
    this.#set('room', room);
  }

  /** The routing policy name set by `PUT /v1/rooms/:room`, if any. */
  get routing(): string | undefined {
    return this.#values.get('routing');
  }

  set routing(routing: string) {
    this.#set('routing', routing);
  }

  /** `true` once the directory has recorded the room. */
  get registered(): boolean {
    return this.#values.get('registered') === '1';
  }

  markRegistered(): void {
    this.#set('registered', '1');
  }

  #set(key: string, value: string): void {
    this.#sql.exec('INSERT OR REPLACE INTO chatroom_meta (key, value) VALUES (?, ?)', key, value);
    this.#values.set(key, value);
  }
}
