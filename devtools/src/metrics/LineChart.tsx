/** A plain SVG line chart of a few series over time; enough for the last minutes of metrics. */

export interface ChartSeries {
  name: string;
  color: string;
  points: ReadonlyArray<{ at: number; value: number | null }>;
}

export interface LineChartProps {
  title: string;
  unit: string;
  series: ChartSeries[];
  testId: string;
  height?: number;
}

const WIDTH = 300;

export function LineChart({ title, unit, series, testId, height = 90 }: LineChartProps) {
  const all = series.flatMap((s) => s.points);
  const times = all.map((p) => p.at);
  const values = all.map((p) => p.value).filter((v): v is number => v !== null);
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const max = Math.max(1e-9, ...values);
  const x = (at: number) => (t1 === t0 ? WIDTH - 3 : 3 + ((at - t0) / (t1 - t0)) * (WIDTH - 6));
  const y = (value: number) => height - 4 - (value / max) * (height - 14);
  const latest = series.map((s) => ({ s, value: [...s.points].reverse().find((p) => p.value !== null)?.value ?? null }));
  return (
    <figure className="chart" data-testid={testId}>
      <figcaption>
        <span>{title}</span>
        <span className="chart-latest">
          {latest.map(({ s, value }) => (
            <span key={s.name} style={{ color: s.color }}>
              {s.name} {value === null ? '—' : format(value)} {unit}
            </span>
          ))}
        </span>
      </figcaption>
      {values.length === 0 ? (
        <div className="chart-empty muted" style={{ height }}>
          waiting for data…
        </div>
      ) : (
        <svg viewBox={`0 0 ${WIDTH} ${height}`} width="100%" height={height} role="img" aria-label={`${title} chart`}>
          <text x={2} y={10} className="chart-axis">
            {format(max)} {unit}
          </text>
          <line x1={0} x2={WIDTH} y1={height - 4} y2={height - 4} className="chart-baseline" />
          {series.map((s) => (
            <g key={s.name}>
              <polyline fill="none" stroke={s.color} strokeWidth={1.5} points={pathOf(s.points, x, y)} />
              {/* Dots while there are few points: a line needs two, and a fresh chart should still show its first scrape. */}
              {s.points.length < 30 &&
                s.points.map((p) => (p.value === null ? null : <circle key={p.at} cx={x(p.at)} cy={y(p.value)} r={2} fill={s.color} />))}
            </g>
          ))}
        </svg>
      )}
    </figure>
  );
}

function pathOf(points: ChartSeries['points'], x: (at: number) => number, y: (v: number) => number): string {
  return points
    .filter((p) => p.value !== null)
    .map((p) => `${x(p.at).toFixed(1)},${y(p.value as number).toFixed(1)}`)
    .join(' ');
}

function format(value: number): string {
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}
