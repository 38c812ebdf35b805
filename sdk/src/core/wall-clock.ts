/**
 * Message timestamps from the send's own reading of the high-resolution
 * clock. A send reads `performance.now()` for its duration histogram anyway;
 * a second read for `Date.now()` cost as much as a tenth of an in-memory send
 * on a VM where each clock read is ~80 ns. The two clocks can drift apart
 * (the monotonic clock may stop while a device sleeps; the wall clock may be
 * set), so the offset between them is checked against `Date.now()` at most
 * once a second and reset when they disagree by a millisecond or more.
 */

const clock = globalThis.performance;
/** How often the offset is checked against the wall clock, in monotonic ms. */
const CHECK_EVERY_MS = 1000;
/** Epoch ms at the monotonic clock's zero: `performance.timeOrigin` to start with (0 where a runtime has none). */
let offset = Number.isFinite(clock.timeOrigin) ? clock.timeOrigin : 0;
let checkedAt = Number.NEGATIVE_INFINITY;

/** Epoch milliseconds (an integer, like `Date.now()`) at `monotonic`, a `performance.now()` reading taken moments ago. */
export function wallClockAt(monotonic: number): number {
  if (monotonic - checkedAt >= CHECK_EVERY_MS) check();
  return Math.floor(offset + monotonic);
}

function check(): void {
  const now = clock.now();
  const wall = Date.now();
  // `wall` is a whole millisecond at or before the true time: the middle of that millisecond is the best estimate.
  if (Math.abs(wall + 0.5 - (offset + now)) >= 1) offset = wall + 0.5 - now;
  checkedAt = now;
}
