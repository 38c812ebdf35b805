import { describe, expect, it } from 'vitest';
import { bucketsOf, parsePrometheus, quantileBetween, sumBy, sumOf } from './prometheus.js';

const TEXT = `# HELP mmb_messages_sent_total Messages stored.
# TYPE mmb_messages_sent_total counter
mmb_messages_sent_total{room="lobby",policy="broadcast"} 7
mmb_messages_sent_total{room="lab",policy="subgroup"} 3
mmb_rejections_total{room="lobby",code="UNKNOWN_GROUP"} 2
mmb_rejections_total{room="lobby",code="RATE_LIMITED"} 1
weird{room="a \\"quoted\\", room",x="}"} 1.5e3
mmb_send_duration_seconds_bucket{room="lobby",le="0.001"} 2
mmb_send_duration_seconds_bucket{room="lobby",le="0.01"} 4
mmb_send_duration_seconds_bucket{room="lobby",le="+Inf"} 4
`;

describe('parsePrometheus', () => {
  const samples = parsePrometheus(TEXT);

  it('reads names, labels and values, skipping comments', () => {
    expect(samples).toHaveLength(8);
    expect(samples[0]).toEqual({ name: 'mmb_messages_sent_total', labels: { room: 'lobby', policy: 'broadcast' }, value: 7 });
  });

  it('unescapes label values that contain quotes, commas and braces', () => {
    expect(samples[4]).toEqual({ name: 'weird', labels: { room: 'a "quoted", room', x: '}' }, value: 1500 });
  });

  it('sums by label match and groups by a label', () => {
    expect(sumOf(samples, 'mmb_messages_sent_total')).toBe(10);
    expect(sumOf(samples, 'mmb_messages_sent_total', { room: 'lab' })).toBe(3);
    expect(Object.fromEntries(sumBy(samples, 'mmb_rejections_total', 'code', { room: 'lobby' }))).toEqual({
      UNKNOWN_GROUP: 2,
      RATE_LIMITED: 1,
    });
  });

  it('estimates quantiles from the difference of two histograms', () => {
    const before = bucketsOf(parsePrometheus(''), 'mmb_send_duration_seconds');
    const after = bucketsOf(samples, 'mmb_send_duration_seconds', { room: 'lobby' });
    expect(after.map((b) => b.le)).toEqual([0.001, 0.01, Number.POSITIVE_INFINITY]);
    expect(quantileBetween(before, after, 0.5)).toBeCloseTo(0.001);
    expect(quantileBetween(before, after, 1)).toBeCloseTo(0.01);
    expect(quantileBetween(after, after, 0.5)).toBeNull();
  });
});
