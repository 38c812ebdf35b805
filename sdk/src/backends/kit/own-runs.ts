/**
 * Jumping over an agent's own broadcasts: the one algorithm every backend
 * uses so that `fetch` stays O(log n + k) when an agent has sent a long run
 * of `members-except-sender` broadcasts (which it does not receive).
 *
 * **Own runs.** Per sender, a run is a maximal sequence of consecutive
 * broadcasts of the room (direct messages do not count) that all exclude that
 * sender; it is stored as its first and last id. Runs of one sender are
 * disjoint and ascending, and because they are maximal, the broadcast just
 * after (or just before) a run is never that sender's own. `extendsRun` is the
 * write rule; `broadcastWalk` and `lastBroadcastWalk` are the read side.
 *
 * The read side is written once, without I/O: a generator yields requests
 * (`WalkRequest`) and a medium answers them, synchronously (`walkSync`:
 * memory, file, SQLite) or asynchronously (`walkAsync`: IndexedDB). The
 * Redis backend runs the same steps inside its fetch script.
 */

/** An agent's run of own broadcasts: the ids of its first and last broadcast. */
export interface OwnRun {
  readonly first: number;
  readonly last: number;
}

/** One broadcast as the walk sees it. */
export interface BroadcastRef {
  readonly id: number;
  /** The sender of a `members-except-sender` broadcast (who does not receive it), `null` for `members`. */
  readonly excluded: string | null;
}

/**
 * Runs whose ids span fewer than this are skipped row by row inside a page of
 * broadcasts (cheap: fewer than 16 rows each); longer ones bound the page and
 * are jumped over with one lookup.
 */
export const JUMP_SPAN = 16;

/**
 * The write rule, for a `members-except-sender` broadcast by `sender`: it
 * extends the sender's latest run when that run ends at the room's last
 * broadcast (nothing but the sender's own broadcasts came since), and starts a
 * new run `{ first: id, last: id }` otherwise. `members` broadcasts and list
 * messages change no run (a `members` broadcast still ends every open run,
 * since it becomes the room's last broadcast).
 */
export function extendsRun(latestRunOfSender: OwnRun | undefined, lastBroadcastId: number | undefined): boolean {
  return latestRunOfSender !== undefined && lastBroadcastId !== undefined && latestRunOfSender.last === lastBroadcastId;
}

/**
 * Rebuilds runs from broadcasts already stored (a medium that gains a run
 * index): feed every broadcast in order (room, then id); each finished run is
 * passed to `emit`. The same grouping `extendsRun` makes one append at a time.
 */
export class RunBuilder {
  readonly #emit: (room: string, sender: string, run: OwnRun) => void;
  #open: { room: string; sender: string; first: number; last: number } | undefined;

  constructor(emit: (room: string, sender: string, run: OwnRun) => void) {
    this.#emit = emit;
  }

  add(room: string, broadcast: BroadcastRef): void {
    const open = this.#open;
    if (open && open.room === room && open.sender === broadcast.excluded) {
      open.last = broadcast.id;
      return;
    }
    this.finish();
    if (broadcast.excluded !== null) this.#open = { room, sender: broadcast.excluded, first: broadcast.id, last: broadcast.id };
  }

  /** Emits the run still open, if any. */
  finish(): void {
    const open = this.#open;
    this.#open = undefined;
    if (open) this.#emit(open.room, open.sender, { first: open.first, last: open.last });
  }
}

/** What a walk asks of the medium. */
export type WalkRequest =
  /** Reply `{ runs, page }`: `ownRuns(agent, after, runLimit)` and `broadcasts(agent, after, +∞, limit)` (may run in parallel). */
  | { readonly kind: 'open'; readonly agent: string; readonly after: number; readonly limit: number; readonly runLimit: number }
  /** Reply `BroadcastRef[]`: see `BroadcastSource.broadcasts`. */
  | { readonly kind: 'broadcasts'; readonly agent: string; readonly after: number; readonly before: number; readonly limit: number }
  /** Reply `BroadcastRef | undefined`: see `BroadcastSource.broadcastBefore`. */
  | { readonly kind: 'before'; readonly agent: string; readonly before: number }
  /** Reply `OwnRun | undefined`: see `BroadcastSource.ownRunAt`. */
  | { readonly kind: 'run-at'; readonly agent: string; readonly id: number };

/**
 * A medium's answers to the walk's requests, synchronous. `agent` is the
 * fetching agent: a medium whose broadcast index is kept per epoch may leave
 * out broadcasts of epochs without the agent (those all lie before its
 * `joinedAfter`); the others ignore it.
 */
export interface BroadcastSource {
  /** `agent`'s runs with `last > after`, ascending by id, at most `limit`. */
  ownRuns(agent: string, after: number, limit: number): readonly OwnRun[];
  /** Retained broadcasts with `after < id < before`, ascending, at most `limit`. */
  broadcasts(agent: string, after: number, before: number, limit: number): readonly BroadcastRef[];
  /** The last retained broadcast with `id < before`. */
  broadcastBefore(agent: string, before: number): BroadcastRef | undefined;
  /** `agent`'s run that holds broadcast `id`. */
  ownRunAt(agent: string, id: number): OwnRun | undefined;
}

/** The same answers, asynchronous. */
export type AsyncBroadcastSource = {
  [K in keyof BroadcastSource]: (...args: Parameters<BroadcastSource[K]>) => Promise<ReturnType<BroadcastSource[K]>>;
};

type Walk<T> = Generator<WalkRequest, T, unknown>;

/**
 * Ids of the broadcasts routed to `agent` with `start < id <= ceiling`,
 * ascending, at most `limit`: every broadcast but the agent's own (a fetch
 * starts at or after the agent's `joinedAfter`, and every broadcast since
 * includes it). Cost: O(log n) per request and O(k) requests and rows for k
 * results, however long the agent's own runs are.
 *
 * Why `limit + 1` runs are enough: between two runs of one sender there is at
 * least one broadcast of someone else, which is a result, so a window with at
 * most `limit` results meets at most `limit + 1` runs.
 */
export function* broadcastWalk(agent: string, start: number, limit: number, ceiling = Number.POSITIVE_INFINITY): Walk<number[]> {
  const found: number[] = [];
  const { runs, page: first } = (yield { kind: 'open', agent, after: start, limit, runLimit: limit + 1 }) as {
    runs: readonly OwnRun[];
    page: readonly BroadcastRef[];
  };
  let page: readonly BroadcastRef[] | undefined = first;
  let requested = limit;
  let pos = start;
  let r = 0;
  while (found.length < limit && pos < ceiling) {
    while (r < runs.length && (runs[r] as OwnRun).last <= pos) r++;
    const current = runs[r];
    if (current !== undefined && current.first <= pos) {
      // `pos` lies inside a run (a cursor in the middle of the agent's own broadcasts): resume after it.
      pos = current.last;
      r++;
      page = undefined;
      continue;
    }
    let b = r;
    while (b < runs.length && (runs[b] as OwnRun).last - (runs[b] as OwnRun).first + 1 < JUMP_SPAN) b++;
    const long = runs[b];
    const bound = Math.min(long === undefined ? Number.POSITIVE_INFINITY : long.first, ceiling + 1);
    if (page === undefined) {
      requested = limit - found.length;
      page = (yield { kind: 'broadcasts', agent, after: pos, before: bound, limit: requested }) as readonly BroadcastRef[];
    }
    // The opening page was read without a bound: anything at or past `bound` in it is ignored.
    let exhausted = page.length < requested;
    for (const ref of page) {
      if (ref.id >= bound) {
        exhausted = true;
        break;
      }
      pos = ref.id;
      if (ref.excluded !== agent) {
        found.push(ref.id);
        if (found.length === limit) return found;
      }
    }
    page = undefined;
    if (!exhausted) continue;
    // Nothing more below `bound`: past the long run, or done.
    if (long === undefined || long.first > ceiling) return found;
    pos = long.last;
    r = b + 1;
  }
  return found;
}

/**
 * The id of the last broadcast routed to `agent` above `floor`, or 0: the
 * room's last broadcast, or, when that is the agent's own, the one just
 * before its run (never its own, runs being maximal). For `lastRoutedId`.
 */
export function* lastBroadcastWalk(agent: string, floor: number): Walk<number> {
  let ref = (yield { kind: 'before', agent, before: Number.POSITIVE_INFINITY }) as BroadcastRef | undefined;
  while (ref !== undefined && ref.id > floor && ref.excluded === agent) {
    const run = (yield { kind: 'run-at', agent, id: ref.id }) as OwnRun | undefined;
    // A run must hold it; without one, step back by one broadcast rather than loop.
    ref = (yield { kind: 'before', agent, before: run && run.first <= ref.id ? run.first : ref.id }) as BroadcastRef | undefined;
  }
  return ref !== undefined && ref.id > floor ? ref.id : 0;
}

/** Runs a walk against a synchronous medium. */
export function walkSync<T>(walk: Walk<T>, source: BroadcastSource): T {
  let step = walk.next();
  while (!step.done) step = walk.next(answer(step.value, source));
  return step.value;
}

/** Runs a walk against an asynchronous medium (the two requests of the opening step in parallel). */
export async function walkAsync<T>(walk: Walk<T>, source: AsyncBroadcastSource): Promise<T> {
  let step = walk.next();
  while (!step.done) step = walk.next(await answer(step.value, source));
  return step.value;
}

/** The medium's answer to one request: a value from a synchronous source, a promise of it from an asynchronous one. */
function answer(request: WalkRequest, source: BroadcastSource | AsyncBroadcastSource): unknown {
  switch (request.kind) {
    case 'open': {
      const runs = source.ownRuns(request.agent, request.after, request.runLimit);
      const page = source.broadcasts(request.agent, request.after, Number.POSITIVE_INFINITY, request.limit);
      return runs instanceof Promise ? Promise.all([runs, page]).then(([r, p]) => ({ runs: r, page: p })) : { runs, page };
    }
    case 'broadcasts':
      return source.broadcasts(request.agent, request.after, request.before, request.limit);
    case 'before':
      return source.broadcastBefore(request.agent, request.before);
    case 'run-at':
      return source.ownRunAt(request.agent, request.id);
  }
}

/** Merges two ascending id lists (direct and broadcast deliveries), dropping duplicates, at most `limit`. */
export function mergeAscending(a: readonly number[], b: readonly number[], limit: number): number[] {
  if (b.length === 0) return a.length <= limit ? (a as number[]) : a.slice(0, limit);
  if (a.length === 0) return b.length <= limit ? (b as number[]) : b.slice(0, limit);
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (out.length < limit && (i < a.length || j < b.length)) {
    const x = i < a.length ? (a[i] as number) : Number.POSITIVE_INFINITY;
    const y = j < b.length ? (b[j] as number) : Number.POSITIVE_INFINITY;
    const id = Math.min(x, y);
    if (id === x) i++;
    if (id === y) j++;
    out.push(id);
  }
  return out;
}
