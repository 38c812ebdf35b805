/**
 * Work counters of the bench-only edge build (bench/edge/worker.ts): every
 * `JSON.stringify` call and every `sql.exec` statement in this isolate. The
 * runner reads them before and after a phase in which only one room object
 * works, so the delta divided by the messages of the phase is that object's
 * work per message: a count the machine's load cannot change.
 */
export interface WorkCounts {
  stringify: number;
  sql: number;
}

export const counts: WorkCounts = { stringify: 0, sql: 0 };

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
    return exec.apply(this, args);
  } as SqlStorage['exec'];
}

/** The counters as plain text, `stringify sql`: reading them must not call the counted `JSON.stringify`. */
export function countsText(): string {
  return `${counts.stringify} ${counts.sql}`;
}
