/**
 * Work counters of the bench-only edge build (bench/edge/worker.ts): every
 * `JSON.stringify` call, every `sql.exec` statement and the rows those
 * statements wrote (SQLite's own count, `cursor.rowsWritten`: table rows,
 * index entries and the rows triggers write) in this isolate. The
 * runner reads them before and after a phase in which only one room object
 * works, so the delta divided by the messages of the phase is that object's
 * work per message: a count the machine's load cannot change.
 */
export interface WorkCounts {
  stringify: number;
  sql: number;
  rowsWritten: number;
}

export const counts: WorkCounts = { stringify: 0, sql: 0, rowsWritten: 0 };

/** The last statement's cursor: its `rowsWritten` is final once it was read, so it is added at the next statement or count. */
let lastCursor: SqlStorageCursor<Record<string, SqlStorageValue>> | undefined;

function addLastCursor(): void {
  if (lastCursor) counts.rowsWritten += lastCursor.rowsWritten;
  lastCursor = undefined;
}

const stringify = JSON.stringify;
JSON.stringify = function countedStringify(this: JSON, ...args: Parameters<typeof JSON.stringify>): string {
  counts.stringify++;
  return stringify.apply(this, args);
} as typeof JSON.stringify;

let sqlCounted = false;

/**
 * Counts the statements of every `SqlStorage` of the isolate. The runtime's
 * `ctx.storage.sql` is one prototype shared by every object, so the wrap goes
 * there, once; the objects' own code is left as it is.
 */
export function countSql(storage: DurableObjectStorage): void {
  if (sqlCounted) return;
  sqlCounted = true;
  const prototype = Object.getPrototypeOf(storage.sql) as SqlStorage;
  const exec = prototype.exec;
  prototype.exec = function countedExec(this: SqlStorage, ...args: Parameters<SqlStorage['exec']>) {
    counts.sql++;
    addLastCursor();
    const cursor = exec.apply(this, args);
    lastCursor = cursor;
    return cursor;
  } as SqlStorage['exec'];
}

/** The counters as plain text, `stringify sql rowsWritten`: reading them must not call the counted `JSON.stringify`. */
export function countsText(): string {
  addLastCursor();
  return `${counts.stringify} ${counts.sql} ${counts.rowsWritten}`;
}
