/**
 * The per-room lock of `FileStorageBackend`: a `LOCK` file naming its holder by
 * pid, the kernel's start time of that process (from /proc) and host. A pid
 * alone is not enough: pids are reused, and a killed process that nobody has
 * reaped yet still answers `kill(pid, 0)`. So a lock is stale when the pid is
 * gone, or is a zombie, or now belongs to a process that started at another
 * time. Where /proc is missing (macOS), the holder touches the file every few
 * seconds and a lock untouched for `STALE_HEARTBEAT_MS` is stale.
 *
 * Taking over a stale lock happens under a short-lived `LOCK.takeover` guard
 * (created with O_EXCL), so two processes that both see a stale lock cannot
 * both win: the loser re-reads the lock, finds a live holder and gets the
 * "locked" error.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MessageBusError } from '../../core/errors.js';

const HEARTBEAT_MS = 5_000;
const STALE_HEARTBEAT_MS = 30_000;
/** A takeover guard older than this belongs to a process that died mid-takeover. */
const STALE_GUARD_MS = 5_000;

interface LockOwner {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot), or `null` where /proc is missing. */
  start: string | null;
  host: string;
  since: string;
}

/** A held lock; `release` removes the file if it is still ours. */
export class RoomLock {
  readonly #file: string;
  readonly #token: string;
  #heartbeat: ReturnType<typeof setInterval> | undefined;

  private constructor(file: string, token: string) {
    this.#file = file;
    this.#token = token;
    if (selfStart === null) {
      this.#heartbeat = setInterval(() => {
        const now = new Date();
        try {
          fs.utimesSync(this.#file, now, now);
        } catch {
          // The directory was removed: nothing left to guard.
        }
      }, HEARTBEAT_MS);
      this.#heartbeat.unref?.();
    }
  }

  /** Takes the lock of `dir` (which must exist) or throws `STORAGE_FAILURE` naming the live holder. */
  static acquire(dir: string, what: string): RoomLock {
    const file = path.join(dir, 'LOCK');
    const me: LockOwner = { pid: process.pid, start: selfStart, host: os.hostname(), since: new Date().toISOString() };
    const token = JSON.stringify(me);
    for (let attempt = 0; attempt < 20; attempt++) {
      if (createExclusive(file, token)) return new RoomLock(file, token);
      const holder = readLock(file);
      if (holder === undefined) continue; // released between our create and read: try again
      if (isLive(holder.owner, file)) throw lockedError(what, dir, holder.owner);
      if (!takeOver(file, holder.raw)) sleep(20);
    }
    throw new MessageBusError(
      'STORAGE_FAILURE',
      `[file] could not take the lock of ${what} in ${dir}: it changed hands repeatedly; try again`,
    );
  }

  release(): void {
    clearInterval(this.#heartbeat);
    try {
      if (fs.readFileSync(this.#file, 'utf8') === this.#token) fs.unlinkSync(this.#file);
    } catch {
      // Already gone.
    }
  }
}

// --- internal helpers ---

const selfStart = processStart(process.pid);

function processStart(pid: number): string | null {
  const stat = procStat(pid);
  return stat ? (stat.fields[19] ?? null) : null;
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces): [0] is the state, [19] the start time. */
function procStat(pid: number): { fields: string[] } | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return { fields: text.slice(text.lastIndexOf(')') + 2).split(' ') };
  } catch {
    return undefined;
  }
}

function createExclusive(file: string, content: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

function readLock(file: string): { raw: string; owner: LockOwner | undefined } | undefined {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const owner = JSON.parse(raw) as LockOwner;
    return { raw, owner: typeof owner?.pid === 'number' ? owner : undefined };
  } catch {
    // Empty or torn: its writer died between create and write, or it is garbage. Either way nobody holds it
    // unless it is brand new (a writer between open and write right now).
    return { raw, owner: undefined };
  }
}

function isLive(owner: LockOwner | undefined, file: string): boolean {
  if (!owner) return ageMs(file) < STALE_GUARD_MS;
  // Another host's process cannot be checked from here: assume it is alive.
  if (owner.host !== os.hostname()) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (owner.start !== null) {
    const stat = procStat(owner.pid);
    if (!stat) return false;
    const state = stat.fields[0];
    if (state === 'Z' || state === 'X') return false; // killed, not yet reaped
    return stat.fields[19] === owner.start; // otherwise the pid was reused
  }
  return ageMs(file) < STALE_HEARTBEAT_MS;
}

function ageMs(file: string): number {
  try {
    return Date.now() - fs.statSync(file).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** Removes the stale lock whose content is `staleRaw`, under the takeover guard. Returns false when the guard is busy. */
function takeOver(file: string, staleRaw: string): boolean {
  const guard = `${file}.takeover`;
  if (!createExclusive(guard, String(process.pid))) {
    if (ageMs(guard) > STALE_GUARD_MS) fs.rmSync(guard, { force: true });
    return false;
  }
  try {
    // Still the same stale content? Then nobody took it over since we looked.
    if (readLock(file)?.raw === staleRaw) fs.rmSync(file, { force: true });
  } finally {
    fs.rmSync(guard, { force: true });
  }
  return true;
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function lockedError(what: string, dir: string, owner: LockOwner | undefined): MessageBusError {
  const who = owner ? `process ${owner.pid} on ${owner.host} (since ${owner.since})` : 'a process that is writing its lock right now';
  return new MessageBusError(
    'STORAGE_FAILURE',
    `[file] ${what} in ${dir} is locked by ${who}. The file backend is single-process: close the other process, ` +
      'or use RedisStorageBackend to share rooms between processes.',
    { details: { lockedBy: owner?.pid ?? null } },
  );
}
