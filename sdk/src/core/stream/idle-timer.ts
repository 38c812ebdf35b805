/** Timers hold 32-bit signed milliseconds. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Calls `onIdle` once nothing has `touch`ed it for `idleMs`. A touch only
 * records the time: the one timer re-arms itself for what is left when it
 * fires early, so a stream of thousands of deltas sets a timer about once per
 * `idleMs`, not once per delta. The timer does not keep a Node.js process alive.
 */
export class IdleTimer {
  readonly #idleMs: number;
  readonly #onIdle: () => void;
  #last = performance.now();
  #timer: unknown;

  constructor(idleMs: number, onIdle: () => void) {
    this.#idleMs = idleMs;
    this.#onIdle = onIdle;
    this.#arm(idleMs);
  }

  touch(): void {
    this.#last = performance.now();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(ms: number): void {
    const timer = setTimeout(() => this.#fire(), Math.min(MAX_TIMER_MS, Math.max(1, ms)));
    (timer as { unref?: () => void }).unref?.();
    this.#timer = timer;
  }

  #fire(): void {
    if (this.#timer === undefined) return;
    const left = this.#last + this.#idleMs - performance.now();
    if (left > 0) {
      this.#arm(left);
      return;
    }
    this.#timer = undefined;
    this.#onIdle();
  }
}
