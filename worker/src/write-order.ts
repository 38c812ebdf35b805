/**
 * Puts a stream's numbered writes back in order. The runtime may hand a
 * socket's frames to the room object out of order (seen in workerd under
 * load), so a write that arrives ahead of its turn waits here until the ones
 * before it came; a `stream-end` naming the last write's `seq` waits for it
 * too. A write at or below the applied seq is a resend and is dropped.
 */
export class WriteOrder {
  readonly #waiting = new Map<number, string>();
  readonly #ends: { seq: number; resolve: () => void }[] = [];
  readonly #maxAhead: number;

  constructor(maxAhead: number) {
    this.#maxAhead = maxAhead;
  }

  /**
   * Offers write `seq` when `applied` writes are in; returns the texts now due, in order (empty when it must wait
   * or was a resend), or `undefined` when it is too far ahead to wait for.
   */
  offer(seq: number, text: string, applied: number): string[] | undefined {
    if (seq <= applied || this.#waiting.has(seq)) return [];
    if (seq > applied + this.#maxAhead) return undefined;
    if (seq !== applied + 1) {
      this.#waiting.set(seq, text);
      return [];
    }
    const due = [text];
    for (let next = seq + 1; this.#waiting.has(next); next++) {
      due.push(this.#waiting.get(next) as string);
      this.#waiting.delete(next);
    }
    return due;
  }

  /** Resolves once `applied(seq)` has been reported for `seq` or a later write. */
  until(seq: number, applied: number): Promise<void> {
    if (seq <= applied) return Promise.resolve();
    return new Promise((resolve) => this.#ends.push({ seq, resolve }));
  }

  /** Writes up to `applied` are in: wakes the ends waiting for them. */
  applied(applied: number): void {
    for (let i = this.#ends.length - 1; i >= 0; i--) {
      const end = this.#ends[i] as { seq: number; resolve: () => void };
      if (end.seq <= applied) {
        this.#ends.splice(i, 1);
        end.resolve();
      }
    }
  }

  /** The stream is over: nothing more is applied; waiting ends go ahead (and find it closed). */
  clear(): void {
    this.#waiting.clear();
    for (const end of this.#ends.splice(0)) end.resolve();
  }
}
