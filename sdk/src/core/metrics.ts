/**
 * A small Prometheus registry: counters, gauges and histograms with labels,
 * rendered in the text exposition format (version 0.0.4). Runtime-agnostic, so
 * the same registry works in a browser tab, a Node process and a Durable Object.
 */

type Labels = Record<string, string>;

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  render(lines: string[]): void;
}

/** Latency buckets in seconds, from 50µs to 5s. */
export const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** A monotonically increasing count per label set. */
export class Counter implements Family {
  readonly type = 'counter';
  readonly #values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels, by = 1): void {
    const key = labelKey(labels);
    const entry = this.#values.get(key);
    if (entry) entry.value += by;
    else this.#values.set(key, { labels, value: by });
  }

  get(labels: Labels): number {
    return this.#values.get(labelKey(labels))?.value ?? 0;
  }

  /** A handle on one label set, for hot paths: `inc` without building a label key each time. */
  bind(labels: Labels): { inc(by?: number): void } {
    const key = labelKey(labels);
    let entry = this.#values.get(key);
    if (!entry) this.#values.set(key, (entry = { labels, value: 0 }));
    const series = entry;
    return {
      inc: (by = 1) => {
        series.value += by;
      },
    };
  }

  render(lines: string[]): void {
    for (const { labels, value } of this.#values.values()) lines.push(`${this.name}${labelText(labels)} ${value}`);
  }
}

/** A value that goes up and down; `reset` drops label sets that no longer exist (agents that left). */
export class Gauge implements Family {
  readonly type = 'gauge';
  readonly #values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  set(labels: Labels, value: number): void {
    this.#values.set(labelKey(labels), { labels, value });
  }

  get(labels: Labels): number | undefined {
    return this.#values.get(labelKey(labels))?.value;
  }

  /** Removes every label set whose labels include all of `match`. */
  reset(match: Labels): void {
    for (const [key, entry] of this.#values) {
      if (Object.entries(match).every(([k, v]) => entry.labels[k] === v)) this.#values.delete(key);
    }
  }

  render(lines: string[]): void {
    for (const { labels, value } of this.#values.values()) lines.push(`${this.name}${labelText(labels)} ${value}`);
  }
}

interface HistogramSeries {
  labels: Labels;
  counts: number[];
  sum: number;
  count: number;
}

/** Cumulative buckets, sum and count per label set. */
export class Histogram implements Family {
  readonly type = 'histogram';
  readonly #series = new Map<string, HistogramSeries>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[] = LATENCY_BUCKETS,
  ) {}

  observe(labels: Labels, value: number): void {
    this.#record(this.#seriesOf(labelKey(labels), labels), value);
  }

  /**
   * A handle on one label set, for hot paths: `observe` without building a label key each time. The series
   * appears in the exposition at its first observation, as with `observe`.
   */
  bind(labels: Labels): { observe(value: number): void } {
    const key = labelKey(labels);
    let series: HistogramSeries | undefined;
    return {
      observe: (value) => {
        series ??= this.#seriesOf(key, labels);
        this.#record(series, value);
      },
    };
  }

  /** Observations so far for a label set. */
  count(labels: Labels): number {
    return this.#series.get(labelKey(labels))?.count ?? 0;
  }

  #seriesOf(key: string, labels: Labels): HistogramSeries {
    let series = this.#series.get(key);
    if (!series) {
      series = { labels, counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.#series.set(key, series);
    }
    return series;
  }

  #record(series: HistogramSeries, value: number): void {
    // Counts are stored per bucket and made cumulative when rendered: one increment per observation.
    let i = 0;
    while (i < this.buckets.length && value > (this.buckets[i] as number)) i++;
    if (i < this.buckets.length) series.counts[i] = (series.counts[i] as number) + 1;
    series.sum += value;
    series.count += 1;
  }

  render(lines: string[]): void {
    for (const { labels, counts, sum, count } of this.#series.values()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += counts[i] as number;
        lines.push(`${this.name}_bucket${labelText({ ...labels, le: String(le) })} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket${labelText({ ...labels, le: '+Inf' })} ${count}`);
      lines.push(`${this.name}_sum${labelText(labels)} ${sum}`);
      lines.push(`${this.name}_count${labelText(labels)} ${count}`);
    }
  }
}

/**
 * Holds metric families and the collectors that refresh gauges before each
 * scrape. Share one registry between several buses to expose them together.
 *
 * @example
 * ```ts
 * const registry = new MetricsRegistry();
 * const lobby = new MessageBus(backend, policy, { room: 'lobby', metrics: registry });
 * const text = await registry.render(); // Prometheus text format
 * ```
 */
export class MetricsRegistry {
  readonly #families = new Map<string, Family>();
  readonly #collectors = new Set<() => Promise<void> | void>();

  counter(name: string, help: string): Counter {
    return this.#get(name, () => new Counter(name, help), 'counter');
  }
  gauge(name: string, help: string): Gauge {
    return this.#get(name, () => new Gauge(name, help), 'gauge');
  }
  histogram(name: string, help: string, buckets?: readonly number[]): Histogram {
    return this.#get(name, () => new Histogram(name, help, buckets), 'histogram');
  }

  /** Registers a function run before every render (to refresh gauges); returns its remover. */
  addCollector(collect: () => Promise<void> | void): () => void {
    this.#collectors.add(collect);
    return () => this.#collectors.delete(collect);
  }

  /** Runs the collectors, then renders every family in the Prometheus text exposition format. */
  async render(): Promise<string> {
    await Promise.all([...this.#collectors].map((collect) => collect()));
    const lines: string[] = [];
    for (const family of this.#families.values()) {
      lines.push(`# HELP ${family.name} ${family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
      lines.push(`# TYPE ${family.name} ${family.type}`);
      family.render(lines);
    }
    return `${lines.join('\n')}\n`;
  }

  #get<F extends Family>(name: string, create: () => F, type: Family['type']): F {
    const existing = this.#families.get(name);
    if (existing) {
      if (existing.type !== type) throw new Error(`metric ${name} is already registered as a ${existing.type}`);
      return existing as F;
    }
    const family = create();
    this.#families.set(name, family);
    return family;
  }
}

/**
 * Merges several expositions (one per Durable Object, say) into one valid
 * exposition: each family's HELP and TYPE once, followed by all its samples.
 * Samples must already differ by label (e.g. `room`).
 */
export function mergeExpositions(texts: readonly string[]): string {
  const families = new Map<string, { meta: string[]; samples: string[] }>();
  const familyOf = (sample: string): string => {
    const name = sample.split(/[{ ]/, 1)[0] as string;
    for (const suffix of ['_bucket', '_sum', '_count']) {
      const base = name.slice(0, -suffix.length);
      if (name.endsWith(suffix) && families.has(base)) return base;
    }
    return name;
  };
  for (const text of texts) {
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const meta = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (meta) {
        const name = meta[2] as string;
        let family = families.get(name);
        if (!family) families.set(name, (family = { meta: [], samples: [] }));
        if (!family.meta.some((m) => m.startsWith(`# ${meta[1]} `))) family.meta.push(line);
        continue;
      }
      if (line.startsWith('#')) continue;
      const name = familyOf(line);
      let family = families.get(name);
      if (!family) families.set(name, (family = { meta: [], samples: [] }));
      family.samples.push(line);
    }
  }
  const out: string[] = [];
  for (const { meta, samples } of families.values()) out.push(...meta, ...samples);
  return `${out.join('\n')}\n`;
}

function labelKey(labels: Labels): string {
  let key = '';
  for (const name in labels) key += `${name}\u0000${labels[name]}\u0001`;
  return key;
}

function labelText(labels: Labels): string {
  const parts: string[] = [];
  for (const name in labels) {
    const value = (labels[name] as string).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
    parts.push(`${name}="${value}"`);
  }
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}
