/**
 * Scrapes `/metrics` every couple of seconds and keeps the last minutes as
 * points for the charts: rates come from the difference of two scrapes of the
 * same counters, latency quantiles from the difference of their histograms.
 */
import { useEffect, useState } from 'react';
import type { ApiClient } from '../api/client.js';
import { ApiError } from '../api/errors.js';
import { bucketsOf, parsePrometheus, quantileBetween, type Sample, sumBy, sumOf } from '../api/prometheus.js';

export interface MetricsPoint {
  at: number;
  messagesPerSecond: number;
  deliveriesPerSecond: number;
  /** Rejections per second in this interval, by error code. */
  rejections: Record<string, number>;
  /** Send latency in milliseconds over this interval, null when nothing was sent. */
  p50: number | null;
  p95: number | null;
}

export interface MetricsState {
  points: MetricsPoint[];
  /** Rejection totals since the worker started, by code. */
  rejectionTotals: Record<string, number>;
  error: ApiError | null;
}

/** Keep ten minutes of points. */
const WINDOW_MS = 10 * 60_000;

export function summarize(before: Sample[], after: Sample[], seconds: number, match: Record<string, string>, at: number): MetricsPoint {
  const rate = (name: string) => Math.max(0, sumOf(after, name, match) - sumOf(before, name, match)) / seconds;
  const rejectedBefore = sumBy(before, 'mmb_rejections_total', 'code', match);
  const rejections: Record<string, number> = {};
  for (const [code, total] of sumBy(after, 'mmb_rejections_total', 'code', match)) {
    rejections[code] = Math.max(0, total - (rejectedBefore.get(code) ?? 0)) / seconds;
  }
  const bucketsBefore = bucketsOf(before, 'mmb_send_duration_seconds', match);
  const bucketsAfter = bucketsOf(after, 'mmb_send_duration_seconds', match);
  const ms = (value: number | null) => (value === null ? null : value * 1000);
  return {
    at,
    messagesPerSecond: rate('mmb_messages_sent_total'),
    deliveriesPerSecond: rate('mmb_deliveries_total'),
    rejections,
    p50: ms(quantileBetween(bucketsBefore, bucketsAfter, 0.5)),
    p95: ms(quantileBetween(bucketsBefore, bucketsAfter, 0.95)),
  };
}

export function useMetrics(client: ApiClient | null, room: string | null, intervalMs = 2000): MetricsState {
  const [state, setState] = useState<MetricsState>({ points: [], rejectionTotals: {}, error: null });

  useEffect(() => {
    setState({ points: [], rejectionTotals: {}, error: null });
    if (!client) return;
    const match: Record<string, string> = room ? { room } : {};
    let previous: { samples: Sample[]; at: number } | null = null;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const scrape = async () => {
      try {
        const samples = parsePrometheus(await client.metrics());
        const at = Date.now();
        if (stopped) return;
        const before = previous;
        previous = { samples, at };
        const totals = Object.fromEntries(sumBy(samples, 'mmb_rejections_total', 'code', match));
        setState((s) => {
          const points = before
            ? [...s.points, summarize(before.samples, samples, Math.max(0.001, (at - before.at) / 1000), match, at)]
            : s.points;
          return { points: points.filter((p) => p.at >= at - WINDOW_MS), rejectionTotals: totals, error: null };
        });
      } catch (error) {
        if (stopped) return;
        setState((s) => ({ ...s, error: error instanceof ApiError ? error : new ApiError('server', 'CLIENT_ERROR', 0, String(error)) }));
      }
      if (!stopped) timer = setTimeout(scrape, intervalMs);
    };
    void scrape();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [client, room, intervalMs]);

  return state;
}
