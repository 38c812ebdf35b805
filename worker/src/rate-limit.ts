/**
 * A token bucket per agent: `burst` sends at once, refilled at `perSecond`.
 * Kept in the room object's memory, so it resets when the object is evicted
 * (a fresh bucket is full, which errs on the side of letting agents send).
 */
export class TokenBuckets {
  readonly #perSecond: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(perSecond: number, burst: number, now: () => number = Date.now) {
    this.#perSecond = perSecond;
    this.#burst = Math.max(1, burst);
    this.#now = now;
  }

  /** Takes one token for `key`. Returns 0 when allowed, otherwise the seconds until a token is back (at least 1). */
  take(key: string): number {
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size > 10_000) this.#buckets.clear();
      this.#buckets.set(key, (bucket = { tokens: this.#burst, at: now }));
    }
    bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#perSecond);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.#perSecond));
  }
}
