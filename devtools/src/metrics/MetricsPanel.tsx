/** Messages/s, deliveries/s, rejections by code and send latency for the selected room, scraped from `/metrics`. */
import { memo } from 'react';
import type { MetricsState } from '../hooks/useMetrics.js';
import { Panel } from '../ui/Panel.js';
import { LineChart } from './LineChart.js';

export interface MetricsPanelProps {
  metrics: MetricsState;
  room: string | null;
}

const CODE_COLORS = ['#dc2626', '#d97706', '#7c3aed', '#0891b2', '#be185d', '#4d7c0f'];

export const MetricsPanel = memo(function MetricsPanel({ metrics, room }: MetricsPanelProps) {
  const { points, rejectionTotals, error } = metrics;
  const codes = [...new Set([...Object.keys(rejectionTotals), ...points.flatMap((p) => Object.keys(p.rejections))])].sort();
  return (
    <Panel title={`Metrics${room ? ` · ${room}` : ''}`} testId="metrics-panel" className="metrics-panel">
      {error && (
        <p className="error-text" data-testid="metrics-error">
          /metrics: {error.code} {error.message}
        </p>
      )}
      <LineChart
        title="Messages"
        unit="/s"
        testId="chart-messages"
        series={[{ name: 'sent', color: '#2f6fde', points: points.map((p) => ({ at: p.at, value: p.messagesPerSecond })) }]}
      />
      <LineChart
        title="Deliveries"
        unit="/s"
        testId="chart-deliveries"
        series={[{ name: 'delivered', color: '#1f9d55', points: points.map((p) => ({ at: p.at, value: p.deliveriesPerSecond })) }]}
      />
      <LineChart
        title="Send latency"
        unit="ms"
        testId="chart-latency"
        series={[
          { name: 'p50', color: '#0891b2', points: points.map((p) => ({ at: p.at, value: p.p50 })) },
          { name: 'p95', color: '#be185d', points: points.map((p) => ({ at: p.at, value: p.p95 })) },
        ]}
      />
      <LineChart
        title="Rejections"
        unit="/s"
        testId="chart-rejections"
        series={codes.map((code, i) => ({
          name: code,
          color: CODE_COLORS[i % CODE_COLORS.length] as string,
          points: points.map((p) => ({ at: p.at, value: p.rejections[code] ?? 0 })),
        }))}
      />
      <ul className="rejection-totals" data-testid="rejection-totals">
        {codes.length === 0 ? (
          <li className="muted">No rejected sends.</li>
        ) : (
          codes.map((code) => (
            <li key={code} data-code={code}>
              <span className="mono">{code}</span> {rejectionTotals[code] ?? 0}
            </li>
          ))
        )}
      </ul>
    </Panel>
  );
});
