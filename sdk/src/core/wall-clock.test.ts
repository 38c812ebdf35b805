import { afterEach, describe, expect, it, vi } from 'vitest';
import { wallClockAt } from './wall-clock.js';

describe('wallClockAt', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('gives the epoch millisecond of a fresh performance.now() reading, as Date.now() would', () => {
    for (let i = 0; i < 1000; i++) {
      const before = Date.now();
      const at = wallClockAt(performance.now());
      const after = Date.now();
      expect(Number.isInteger(at)).toBe(true);
      // Within the millisecond either side: the two clocks are read at different instants.
      expect(at).toBeGreaterThanOrEqual(before - 1);
      expect(at).toBeLessThanOrEqual(after + 1);
    }
  });

  it('follows the wall clock when it is set: the offset is checked again once a second of readings has passed', () => {
    const start = performance.now();
    const settled = wallClockAt(start);
    // The wall clock jumps a minute ahead (a clock step, or a device waking from sleep).
    const real = Date.now.bind(Date);
    vi.spyOn(Date, 'now').mockImplementation(() => real() + 60_000);
    // Within the second since the last check: the old offset still stands.
    expect(Math.abs(wallClockAt(start + 1) - settled)).toBeLessThan(5);
    // A reading a second later makes the bus look again, and from then on it agrees with the new wall clock.
    const later = wallClockAt(start + 1_500);
    expect(later - (settled + 1_500)).toBeGreaterThan(59_000);
    const now = wallClockAt(performance.now());
    expect(Math.abs(now - Date.now())).toBeLessThanOrEqual(2);
  });
});
