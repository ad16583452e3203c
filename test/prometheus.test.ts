/**
 * The Prometheus text format /metrics speaks (version 0.0.4): HELP and TYPE lines, samples per
 * label set, escaping, cumulative histogram buckets, gauges read at scrape time, and the
 * process metrics every client exports.
 */
import { describe, expect, test } from "bun:test";
import { Metrics } from "../src/metrics.ts";
import { CONTENT_TYPE, Counter, Gauge, Histogram, Registry } from "../src/prometheus.ts";

describe("counters", () => {
  test("a counter without labels prints 0 before its first increment, then its total", () => {
    const registry = new Registry();
    const counter = new Counter({ name: "jobs_total", help: "Jobs." }, registry);
    expect(registry.metrics()).toBe(
      "# HELP jobs_total Jobs.\n# TYPE jobs_total counter\njobs_total 0\n",
    );
    counter.inc();
    counter.inc({}, 2.5);
    expect(registry.metrics()).toContain("\njobs_total 3.5\n");
  });

  test("a labelled counter prints one sample per label set, in the metric's label order", () => {
    const registry = new Registry();
    const counter = new Counter(
      { name: "hooks_total", help: "Hooks.", labelNames: ["provider", "result"] },
      registry,
    );
    expect(registry.metrics()).toBe("# HELP hooks_total Hooks.\n# TYPE hooks_total counter\n");
    counter.inc({ result: "ok", provider: "github" });
    counter.inc({ provider: "github", result: "ok" });
    counter.inc({ provider: "gitlab", result: "busy" });
    expect(registry.metrics().split("\n").slice(2)).toEqual([
      'hooks_total{provider="github",result="ok"} 2',
      'hooks_total{provider="gitlab",result="busy"} 1',
      "",
    ]);
  });

  test("label values and help texts are escaped", () => {
    const registry = new Registry();
    const counter = new Counter(
      { name: "odd_total", help: "A \\ and\na newline.", labelNames: ["knot"] },
      registry,
    );
    counter.inc({ knot: 'a"b\\c\nd' });
    expect(registry.metrics()).toBe(
      [
        "# HELP odd_total A \\\\ and\\na newline.",
        "# TYPE odd_total counter",
        'odd_total{knot="a\\"b\\\\c\\nd"} 1',
        "",
      ].join("\n"),
    );
  });
});

test("a histogram's buckets are cumulative, with +Inf, the sum and the count", () => {
  const registry = new Registry();
  const histogram = new Histogram(
    { name: "wait_seconds", help: "Waits.", labelNames: ["provider"], buckets: [0.1, 1] },
    registry,
  );
  for (const value of [0.05, 0.1, 0.5, 3]) histogram.observe({ provider: "x" }, value);
  expect(registry.metrics().split("\n").slice(2)).toEqual([
    'wait_seconds_bucket{provider="x",le="0.1"} 2',
    'wait_seconds_bucket{provider="x",le="1"} 3',
    'wait_seconds_bucket{provider="x",le="+Inf"} 4',
    'wait_seconds_sum{provider="x"} 3.65',
    'wait_seconds_count{provider="x"} 4',
    "",
  ]);
});

test("a histogram's timer observes the seconds since it started", async () => {
  const registry = new Registry();
  const histogram = new Histogram({ name: "t_seconds", help: "T.", buckets: [60] }, registry);
  const stop = histogram.startTimer({});
  await Bun.sleep(20);
  stop();
  const sum = Number(/^t_seconds_sum (\S+)$/m.exec(registry.metrics())?.[1]);
  expect(sum).toBeGreaterThanOrEqual(0.015);
  expect(sum).toBeLessThan(60);
  expect(registry.metrics()).toContain('t_seconds_bucket{le="60"} 1\n');
});

test("a gauge is read at each scrape, and a label set it does not set has no sample", () => {
  const registry = new Registry();
  let lag: number | undefined;
  new Gauge(
    {
      name: "lag_seconds",
      help: "Lag.",
      collect: (set) => {
        if (lag !== undefined) set({}, lag);
      },
    },
    registry,
  );
  expect(registry.metrics()).toBe("# HELP lag_seconds Lag.\n# TYPE lag_seconds gauge\n");
  lag = 1.5;
  expect(registry.metrics()).toContain("\nlag_seconds 1.5\n");
  lag = Number.POSITIVE_INFINITY;
  expect(registry.metrics()).toContain("\nlag_seconds +Inf\n");
});

test("metrics print in the order they were registered, a blank line between two", () => {
  const registry = new Registry();
  new Counter({ name: "b_total", help: "B." }, registry);
  new Counter({ name: "a_total", help: "A." }, registry);
  expect(registry.metrics()).toBe(
    "# HELP b_total B.\n# TYPE b_total counter\nb_total 0\n\n# HELP a_total A.\n# TYPE a_total counter\na_total 0\n",
  );
  expect(registry.contentType).toBe(CONTENT_TYPE);
});

test("a scrape has the build, the process metrics and the event-loop lag", async () => {
  const metrics = new Metrics();
  const text = await metrics.scrape();
  expect(text).toMatch(
    /^tack_build_info\{version="[^"]+",commit="[^"]+",schema_version="\d+"\} 1$/m,
  );
  expect(text).toContain("# TYPE process_cpu_seconds_total counter\n");
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
  // Read one after the other: the total is read last, so it holds at least the two parts.
  const parts = value("process_cpu_user_seconds_total") + value("process_cpu_system_seconds_total");
  expect(value("process_cpu_seconds_total")).toBeGreaterThanOrEqual(parts);
  expect(value("process_cpu_seconds_total") - parts).toBeLessThan(0.05);
  expect(value("process_resident_memory_bytes")).toBeGreaterThan(1024 * 1024);
  expect(
    Math.abs(value("process_start_time_seconds") - (Date.now() / 1000 - process.uptime())),
  ).toBeLessThan(2);
  expect(value("process_open_fds")).toBeGreaterThan(2);
  expect(value("process_max_fds")).toBeGreaterThanOrEqual(value("process_open_fds"));
  expect(value("nodejs_heap_size_used_bytes")).toBeGreaterThan(0);
  expect(value("nodejs_eventloop_lag_seconds")).toBeGreaterThanOrEqual(0);
  // Registered once: a second scrape has each metric once.
  const again = await metrics.scrape();
  expect(again.match(/^# TYPE process_open_fds /gm)?.length).toBe(1);
});
