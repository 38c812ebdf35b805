/**
 * A small reader for the Prometheus text exposition format (0.0.4): enough for
 * the counters, gauges and histograms `/metrics` serves. Comments, HELP and
 * TYPE lines are skipped; label values may hold escaped quotes, backslashes and
 * newlines.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+\S+)?$/;

/**
 * @example
 * ```ts
 * parsePrometheus('mmb_messages_sent_total{room="lobby"} 3\n');
 * // [{ name: 'mmb_messages_sent_total', labels: { room: 'lobby' }, value: 3 }]
 * ```
 */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const value = parseValue(match[3] as string);
    if (Number.isNaN(value)) continue;
    samples.push({ name: match[1] as string, labels: match[2] ? parseLabels(match[2]) : {}, value });
  }
  return samples;
}

function parseValue(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

/** Parses `{a="x",b="y \"q\""}`, character by character because values may contain `,` `}` and escapes. */
function parseLabels(block: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 1;
  const end = block.length - 1;
  while (i < end) {
    while (i < end && (block[i] === ',' || block[i] === ' ')) i++;
    const eq = block.indexOf('=', i);
    if (eq < 0) break;
    const name = block.slice(i, eq).trim();
    i = eq + 1;
    if (block[i] !== '"') break;
    i++;
    let value = '';
    while (i < end && block[i] !== '"') {
      if (block[i] === '\\' && i + 1 < end) {
        const next = block[i + 1];
        value += next === 'n' ? '\n' : next;
        i += 2;
      } else {
        value += block[i];
        i++;
      }
    }
    i++;
    labels[name] = value;
  }
  return labels;
}

/** Sum of every sample named `name` whose labels include all of `match`. */
export function sumOf(samples: readonly Sample[], name: string, match: Record<string, string> = {}): number {
  let total = 0;
  for (const sample of samples) {
    if (sample.name !== name) continue;
    if (Object.entries(match).every(([k, v]) => sample.labels[k] === v)) total += sample.value;
  }
  return total;
}

/** Sums samples named `name` (matching `match`) grouped by the value of `label`. */
export function sumBy(samples: readonly Sample[], name: string, label: string, match: Record<string, string> = {}): Map<string, number> {
  const groups = new Map<string, number>();
  for (const sample of samples) {
    if (sample.name !== name) continue;
    if (!Object.entries(match).every(([k, v]) => sample.labels[k] === v)) continue;
    const key = sample.labels[label] ?? '';
    groups.set(key, (groups.get(key) ?? 0) + sample.value);
  }
  return groups;
}

/** Cumulative histogram buckets (`<name>_bucket`) summed over matching series, sorted by bound. */
export function bucketsOf(
  samples: readonly Sample[],
  name: string,
  match: Record<string, string> = {},
): Array<{ le: number; count: number }> {
  const byBound = new Map<number, number>();
  for (const sample of samples) {
    if (sample.name !== `${name}_bucket`) continue;
    if (!Object.entries(match).every(([k, v]) => sample.labels[k] === v)) continue;
    const le = parseValue(sample.labels.le ?? '+Inf');
    byBound.set(le, (byBound.get(le) ?? 0) + sample.value);
  }
  return [...byBound.entries()].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

/**
 * The `q` quantile of the observations between two scrapes, from the difference
 * of their cumulative buckets (linear inside a bucket, as Prometheus'
 * `histogram_quantile` does). `null` when nothing was observed in between.
 */
export function quantileBetween(
  before: ReadonlyArray<{ le: number; count: number }>,
  after: ReadonlyArray<{ le: number; count: number }>,
  q: number,
): number | null {
  const previous = new Map(before.map((b) => [b.le, b.count]));
  const deltas = after.map((b) => ({ le: b.le, count: b.count - (previous.get(b.le) ?? 0) }));
  const total = deltas.at(-1)?.count ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const bucket of deltas) {
    if (bucket.count >= rank) {
      if (!Number.isFinite(bucket.le)) return lower;
      const inBucket = bucket.count - below;
      return inBucket <= 0 ? bucket.le : lower + ((bucket.le - lower) * (rank - below)) / inBucket;
    }
    lower = bucket.le;
    below = bucket.count;
  }
  return lower;
}
