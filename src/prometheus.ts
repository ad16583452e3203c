/**
 * The Prometheus text format (version 0.0.4) for the three kinds of metric tack keeps:
 * counters, histograms and gauges read at scrape time. A metric prints its HELP and TYPE lines,
 * then one sample per label set; a counter without labels prints 0 before its first increment,
 * one with labels prints no sample until a label set is counted. Label values and help texts
 * are escaped as the format requires. Metrics print in the order they were registered.
 *
 * Written here rather than taken from prom-client, whose modules cost about 5 ms of every
 * start for code tack never ran (its default metrics are V8's, which Bun only imitates).
 */

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type LabelValues = Record<string, string>;

interface Collector {
  /** The metric's lines, each ending in a newline. */
  render(): string;
}

export class Registry {
  readonly contentType = CONTENT_TYPE;
  private readonly collectors: Collector[] = [];

  register(collector: Collector): void {
    this.collectors.push(collector);
  }

  /** Every metric, a blank line between two. */
  metrics(): string {
    return this.collectors.map((collector) => collector.render()).join("\n");
  }
}

interface MetricOptions<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
}

/** A series per label set, keyed by the label values in the metric's label order. */
class Series<L extends string, V> {
  private readonly byKey = new Map<string, { labels: string; value: V }>();

  constructor(private readonly labelNames: readonly L[]) {}

  /** The value of `labels`' series, made with `initial` the first time. */
  get(labels: Partial<Record<L, string>>, initial: () => V): V {
    const values = this.valuesOf(labels);
    const key = values.join("\u0000");
    let series = this.byKey.get(key);
    if (!series) {
      series = { labels: labelText(this.labelNames, values), value: initial() };
      this.byKey.set(key, series);
    }
    return series.value;
  }

  set(labels: Partial<Record<L, string>>, value: V): void {
    const values = this.valuesOf(labels);
    this.byKey.set(values.join("\u0000"), { labels: labelText(this.labelNames, values), value });
  }

  private valuesOf(labels: Partial<Record<L, string>>): string[] {
    return this.labelNames.map((name) => labels[name] ?? "");
  }

  clear(): void {
    this.byKey.clear();
  }

  get size(): number {
    return this.byKey.size;
  }

  entries(): Iterable<{ labels: string; value: V }> {
    return this.byKey.values();
  }
}

export class Counter<L extends string = never> implements Collector {
  private readonly series: Series<L, { count: number }>;

  constructor(
    private readonly options: MetricOptions<L>,
    registry: Registry,
  ) {
    this.series = new Series(options.labelNames ?? []);
    registry.register(this);
  }

  inc(labels: Partial<Record<L, string>> = {}, amount = 1): void {
    this.series.get(labels, () => ({ count: 0 })).count += amount;
  }

  render(): string {
    const { name } = this.options;
    let text = header(this.options, "counter");
    if (this.series.size === 0 && (this.options.labelNames ?? []).length === 0)
      return `${text}${name} 0\n`;
    for (const { labels, value } of this.series.entries())
      text += `${name}${braces(labels)} ${number(value.count)}\n`;
    return text;
  }
}

export class Histogram<L extends string = never> implements Collector {
  private readonly series: Series<L, { buckets: number[]; sum: number; count: number }>;

  constructor(
    private readonly options: MetricOptions<L> & { buckets: readonly number[] },
    registry: Registry,
  ) {
    this.series = new Series(options.labelNames ?? []);
    registry.register(this);
  }

  observe(labels: Partial<Record<L, string>>, value: number): void {
    const series = this.series.get(labels, () => ({
      buckets: this.options.buckets.map(() => 0),
      sum: 0,
      count: 0,
    }));
    this.options.buckets.forEach((bound, i) => {
      if (value <= bound) series.buckets[i] = (series.buckets[i] ?? 0) + 1;
    });
    series.sum += value;
    series.count += 1;
  }

  /** Starts timing; the function it returns observes the seconds since. */
  startTimer(labels: Partial<Record<L, string>>): () => void {
    const started = performance.now();
    return () => this.observe(labels, (performance.now() - started) / 1000);
  }

  render(): string {
    const { name, buckets } = this.options;
    let text = header(this.options, "histogram");
    for (const { labels, value } of this.series.entries()) {
      const comma = labels ? `${labels},` : "";
      buckets.forEach((bound, i) => {
        text += `${name}_bucket{${comma}le="${number(bound)}"} ${value.buckets[i] ?? 0}\n`;
      });
      text += `${name}_bucket{${comma}le="+Inf"} ${value.count}\n`;
      text += `${name}_sum${braces(labels)} ${number(value.sum)}\n`;
      text += `${name}_count${braces(labels)} ${value.count}\n`;
    }
    return text;
  }
}

/**
 * A gauge whose values are read when it is scraped: `collect` sets each label set's value, and
 * a label set it does not set is not printed (a gauge nobody set prints no sample at all). With
 * `type: "counter"` it is a counter someone else keeps, such as the process's CPU seconds.
 */
export class Gauge<L extends string = never> implements Collector {
  private readonly series: Series<L, number>;

  constructor(
    private readonly options: MetricOptions<L> & {
      type?: "gauge" | "counter";
      collect: (set: (labels: Partial<Record<L, string>>, value: number) => void) => void;
    },
    registry: Registry,
  ) {
    this.series = new Series(options.labelNames ?? []);
    registry.register(this);
  }

  render(): string {
    this.series.clear();
    this.options.collect((labels, value) => this.series.set(labels, value));
    let text = header(this.options, this.options.type ?? "gauge");
    for (const { labels, value } of this.series.entries())
      text += `${this.options.name}${braces(labels)} ${number(value)}\n`;
    return text;
  }
}

function header(options: { name: string; help: string }, type: string): string {
  const help = options.help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
  return `# HELP ${options.name} ${help}\n# TYPE ${options.name} ${type}\n`;
}

function labelText(names: readonly string[], values: readonly string[]): string {
  return names
    .map((name, i) => {
      const value = (values[i] ?? "")
        .replaceAll("\\", "\\\\")
        .replaceAll('"', '\\"')
        .replaceAll("\n", "\\n");
      return `${name}="${value}"`;
    })
    .join(",");
}

function braces(labels: string): string {
  return labels ? `{${labels}}` : "";
}

function number(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return Number.isNaN(value) ? "NaN" : String(value);
}
