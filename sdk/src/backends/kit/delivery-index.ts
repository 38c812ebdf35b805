/**
 * The in-process delivery index the memory and file backends share: which
 * message ids are routed to whom, kept in compact number lists.
 *
 * - Per member, the ids of `list` messages routed to it in its current membership.
 * - Per room, every broadcast once (its id, and the sender it excludes, if any).
 * - Per sender, its own runs (see own-runs.ts), so a fetch jumps over them.
 *
 * A fetch binary-searches the member's direct list and walks the broadcast
 * list with `broadcastWalk`, then merges: O(log n + k).
 */
import { latestBroadcastWalk, newestAscending } from './conversation.js';
import { NumberList } from './number-list.js';
import {
  type BroadcastRef,
  type BroadcastSource,
  broadcastWalk,
  extendsRun,
  lastBroadcastWalk,
  mergeAscending,
  type OwnRun,
  walkSync,
} from './own-runs.js';

interface DirectList {
  /** The room's last id when the membership began: ids at or below it belong to an earlier membership. */
  joinedAfter: number;
  ids: NumberList;
}

interface RunList {
  firsts: NumberList;
  lasts: NumberList;
}

/** Capacity a per-agent list starts with: most agents of a large room receive little. */
const SMALL = 8;

export class DeliveryIndex implements BroadcastSource {
  readonly #direct = new Map<string, DirectList>();
  #broadcastIds = new NumberList();
  /** Parallel to `#broadcastIds`: the excluded sender, or `null` for a `members` broadcast. */
  #excluded: (string | null)[] = [];
  readonly #runs = new Map<string, RunList>();

  /** A membership begins: its direct list starts empty. */
  join(agent: string, joinedAfter: number): void {
    this.#direct.set(agent, { joinedAfter, ids: new NumberList(SMALL) });
  }

  /** A membership ends: its direct mail goes with it (a later membership starts afresh). */
  leave(agent: string): void {
    this.#direct.delete(agent);
  }

  /** Indexes a `list` message for each recipient that is a member (of a membership begun before `id`). */
  addList(id: number, recipients: readonly string[]): void {
    // An index loop: for-of over a list of many recipients allocated an iterator result per recipient.
    for (let i = 0; i < recipients.length; i++) {
      const direct = this.#direct.get(recipients[i] as string);
      if (direct && id > direct.joinedAfter) direct.ids.push(id);
    }
  }

  /** Indexes a `list` message for one recipient (see `addList`). */
  deliver(id: number, recipient: string): void {
    const direct = this.#direct.get(recipient);
    if (direct && id > direct.joinedAfter) direct.ids.push(id);
  }

  /** Indexes a broadcast (`excluded`: the sender of a `members-except-sender` one, else `null`) and applies the run rule. */
  addBroadcast(id: number, excluded: string | null): void {
    if (excluded !== null) {
      let runs = this.#runs.get(excluded);
      if (!runs) this.#runs.set(excluded, (runs = { firsts: new NumberList(SMALL), lasts: new NumberList(SMALL) }));
      const n = runs.firsts.length;
      const latest = n === 0 ? undefined : { first: runs.firsts.get(n - 1), last: runs.lasts.get(n - 1) };
      if (extendsRun(latest, this.#broadcastIds.last())) runs.lasts.set(n - 1, id);
      else {
        runs.firsts.push(id);
        runs.lasts.push(id);
      }
    }
    this.#broadcastIds.push(id);
    this.#excluded.push(excluded);
  }

  /** Ids routed to `agent` after `start` (see `fetchStart`), ascending, at most `limit`. */
  routedIds(agent: string, start: number, limit: number): number[] {
    const direct = this.#direct.get(agent)?.ids.between(start, Number.POSITIVE_INFINITY, limit) ?? [];
    // With a full page of direct ids, nothing above the last one can be in the answer.
    const ceiling = direct.length === limit ? (direct[limit - 1] as number) : Number.POSITIVE_INFINITY;
    // No broadcast after `start` (a room of direct messages): nothing to walk.
    if ((this.#broadcastIds.last() ?? 0) <= start) return direct;
    return mergeAscending(direct, walkSync(broadcastWalk(agent, start, limit, ceiling), this), limit);
  }

  /**
   * The newest ids routed to `agent` in `(floor, before)`, ascending, at most
   * `limit` (`fetchLatest`; `latestWindow` gives `floor`): its direct list read
   * backwards and `latestBroadcastWalk`, merged. O(log n + k) direct, O(k log n) broadcast.
   */
  latestIds(agent: string, floor: number, before: number, limit: number): number[] {
    const direct: number[] = [];
    const ids = this.#direct.get(agent)?.ids;
    if (ids) {
      for (let i = ids.firstAbove(before - 1) - 1; i >= 0 && direct.length < limit; i--) {
        const id = ids.get(i);
        if (id <= floor) break;
        direct.push(id);
      }
    }
    // Only broadcasts newer than the oldest direct id of a full page can make the answer.
    const lowest = direct.length === limit ? Math.max(floor, (direct[limit - 1] as number) - 1) : floor;
    return newestAscending(direct, walkSync(latestBroadcastWalk(agent, lowest, before, limit), this), limit);
  }

  /** Highest id routed to the member in this membership (0 if none); callers apply retention (`retainedOrZero`). */
  lastRoutedId(agent: string, joinedAfter: number): number {
    const lastDirect = this.#direct.get(agent)?.ids.last() ?? 0;
    const floor = Math.max(lastDirect, joinedAfter);
    return Math.max(lastDirect, walkSync(lastBroadcastWalk(agent, floor), this));
  }

  /** Forgets entries below `oldestId` (after retention compacted the room). */
  dropBelow(oldestId: number): void {
    const keep = this.#broadcastIds.firstAbove(oldestId - 1);
    this.#broadcastIds = this.#broadcastIds.sliceFrom(keep);
    this.#excluded = this.#excluded.slice(keep);
    for (const direct of this.#direct.values()) direct.ids = direct.ids.sliceFrom(direct.ids.firstAbove(oldestId - 1));
    for (const [sender, runs] of this.#runs) {
      const from = runs.lasts.firstAbove(oldestId - 1);
      if (from === runs.lasts.length) this.#runs.delete(sender);
      else this.#runs.set(sender, { firsts: runs.firsts.sliceFrom(from), lasts: runs.lasts.sliceFrom(from) });
    }
  }

  // --- BroadcastSource: how the walk reads these lists ---

  ownRuns(agent: string, after: number, limit: number): OwnRun[] {
    const runs = this.#runs.get(agent);
    const out: OwnRun[] = [];
    if (!runs) return out;
    for (let i = runs.lasts.firstAbove(after); i < runs.lasts.length && out.length < limit; i++) {
      out.push({ first: runs.firsts.get(i), last: runs.lasts.get(i) });
    }
    return out;
  }

  broadcasts(_agent: string, after: number, before: number, limit: number): BroadcastRef[] {
    const out: BroadcastRef[] = [];
    for (let i = this.#broadcastIds.firstAbove(after); i < this.#broadcastIds.length && out.length < limit; i++) {
      const id = this.#broadcastIds.get(i);
      if (id >= before) break;
      out.push({ id, excluded: this.#excluded[i] as string | null });
    }
    return out;
  }

  broadcastBefore(_agent: string, before: number): BroadcastRef | undefined {
    const i = before === Number.POSITIVE_INFINITY ? this.#broadcastIds.length - 1 : this.#broadcastIds.firstAbove(before - 1) - 1;
    return i < 0 ? undefined : { id: this.#broadcastIds.get(i), excluded: this.#excluded[i] as string | null };
  }

  ownRunAt(agent: string, id: number): OwnRun | undefined {
    const runs = this.#runs.get(agent);
    const i = runs ? runs.firsts.firstAbove(id) - 1 : -1;
    return runs && i >= 0 ? { first: runs.firsts.get(i), last: runs.lasts.get(i) } : undefined;
  }
}
