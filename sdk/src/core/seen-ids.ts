/**
 * Remembers which message ids were handled, in O(1) per id: everything up to a
 * contiguous watermark, plus the ids above it. Ids arrive nearly in order (a
 * watching backend reports every id of the room), so the set above the
 * watermark stays small; ids that never arrive (another writer's, without a
 * watching backend) are given up on once `limit` ids wait above a gap.
 *
 * (A plain Set that deletes its oldest entry each time is not O(1): engines
 * walk past the deleted slots to find the next oldest.)
 */
export class SeenIds {
  #upTo = 0;
  readonly #above = new Set<number>();
  readonly #limit: number;

  constructor(limit = 4096) {
    this.#limit = limit;
  }

  /** Records `id`; returns `false` if it was already recorded. */
  add(id: number): boolean {
    if (id === this.#upTo + 1 && this.#above.size === 0) {
      // The common case, ids in order: no set operation at all.
      this.#upTo = id;
      return true;
    }
    if (id <= this.#upTo || this.#above.has(id)) return false;
    this.#above.add(id);
    while (this.#above.delete(this.#upTo + 1)) this.#upTo++;
    if (this.#above.size > this.#limit) this.#skipGaps();
    return true;
  }

  /** Moves the watermark past the oldest gaps, keeping the newest half of the ids above it. */
  #skipGaps(): void {
    const ids = [...this.#above].sort((a, b) => a - b);
    this.#upTo = ids[ids.length - (this.#limit >> 1)] as number;
    for (const id of ids) if (id <= this.#upTo) this.#above.delete(id);
  }
}
