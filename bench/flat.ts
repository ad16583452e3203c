/**
 * `bun bench/flat.ts [--quick]`: costs that must not grow with the log, measured on seeded
 * databases of 10,000 and of 1,000,000 events, finished workflows (each with its pipeline and
 * a finished Buildkite build) — 100,000 with --quick. Each row shows the large database's
 * figure beside the small one's (the ratio is the growth; 1× is flat):
 *
 * - a /metrics scrape of the compiled tack (median of 20, after one);
 * - one retention batch of each kind (pipelines, then their finished workflows, then those
 *   workflows' events), with the oldest 1,000 runs past the cutoff, in a transaction rolled back
 *   afterwards (median of 5);
 * - reconciliation's work list: the 50 quietest unfinished Buildkite builds among them (20 are
 *   unfinished; median of 20).
 * Start-up at both sizes is in bench/startup.ts.
 */
import { openDb } from "../src/db/client.ts";
import type { Tx } from "../src/db/writer.ts";
import { Writer } from "../src/db/writer.ts";
import { Broker } from "../src/eventlog/broker.ts";
import { EventStore } from "../src/eventlog/store.ts";
import { Pipelines } from "../src/pipeline/pipelines.ts";
import { Workflows } from "../src/pipeline/workflows.ts";
import { BuildkiteBuilds } from "../src/providers/buildkite/builds.ts";
import { buildTack, median, type Row, row, spread, startTackBinary } from "./lib.ts";
import { seededLog } from "./seed.ts";

/** Seeded row i is dated BASE + i/10 ms: rows 0…999 are older than BASE + 100 ms. */
const CUTOFF_MS = 1_795_651_200_000 + 100;

function timed(run: () => void): number {
  const started = performance.now();
  run();
  return performance.now() - started;
}

async function metricsScrape(db: string): Promise<number> {
  const tack = await startTackBinary(db, { TACK_EVENTS_RETENTION: "0" });
  try {
    const scrape = async () => {
      const started = performance.now();
      const response = await fetch(`http://127.0.0.1:${tack.port}/metrics`);
      const text = await response.text();
      if (!text.includes("tack_workflows{")) throw new Error("flat: /metrics without workflows");
      return performance.now() - started;
    };
    await scrape();
    const times: number[] = [];
    for (let i = 0; i < 20; i++) times.push(await scrape());
    return median(times);
  } finally {
    await tack.stop();
  }
}

function inProcess(db: string) {
  const opened = openDb(db);
  const writer = new Writer(opened.db);
  const store = new EventStore(opened.db);
  const broker = new Broker(writer, store);
  return {
    opened,
    store,
    pipelines: new Pipelines(opened.db, writer, broker),
    workflows: new Workflows(opened.db, writer, broker),
    builds: new BuildkiteBuilds(opened.db),
  };
}

function retention(db: string): { pipelines: number; workflows: number; events: number } {
  const service = inProcess(db);
  const tx = service.opened.db as Tx;
  const runs: { pipelines: number; workflows: number; events: number }[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      service.opened.sqlite.run("BEGIN IMMEDIATE");
      const deleted = { pipelines: 0, workflows: 0, events: 0 };
      const run = {
        pipelines: timed(() => {
          deleted.pipelines = service.pipelines.pruneBefore(tx, CUTOFF_MS, 1000);
        }),
        workflows: timed(() => {
          deleted.workflows = service.workflows.pruneBefore(tx, CUTOFF_MS, 1000);
        }),
        events: timed(() => {
          deleted.events = service.store.pruneBefore(tx, BigInt(CUTOFF_MS) * 1_000_000n, 1000);
        }),
      };
      service.opened.sqlite.run("ROLLBACK");
      if (deleted.pipelines !== 1000 || deleted.workflows !== 1000 || deleted.events !== 1000)
        throw new Error(`flat: a retention batch deleted ${JSON.stringify(deleted)}`);
      runs.push(run);
    }
  } finally {
    service.opened.close();
  }
  return {
    pipelines: median(runs.map((r) => r.pipelines)),
    workflows: median(runs.map((r) => r.workflows)),
    events: median(runs.map((r) => r.events)),
  };
}

function reconcile(db: string): number {
  const service = inProcess(db);
  try {
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      times.push(
        timed(() => {
          if (service.builds.unfinished(50).length !== 20)
            throw new Error("flat: expected 20 unfinished builds");
        }),
      );
    }
    return median(times);
  } finally {
    service.opened.close();
  }
}

export async function runFlat(options: { quick?: boolean } = {}): Promise<Row[]> {
  await buildTack();
  const large = options.quick ? 100_000 : 1_000_000;
  const sizes = [seededLog(10_000), seededLog(large)];
  type Costs = {
    metrics: number;
    pipelines: number;
    workflows: number;
    events: number;
    sweep: number;
  };
  const runs: Costs[][] = [[], []];
  // Alternating small and large, run after run.
  for (let run = 0; run < (options.quick ? 1 : 3); run++) {
    for (const [i, db] of sizes.entries()) {
      const metrics = await metricsScrape(db);
      runs[i]?.push({ metrics, ...retention(db), sweep: reconcile(db) });
    }
  }
  const [small, big] = runs;
  if (!small || !big) throw new Error("flat: missing sizes");
  const n = (count: number) => count.toLocaleString("en-US");
  const versus = `${n(large)} vs ${n(10_000)} finished workflows`;
  const compare = (what: string, key: keyof Costs) =>
    row(
      `${what}, ${versus}`,
      "ms",
      spread(big.map((costs) => costs[key])),
      spread(small.map((costs) => costs[key])),
      false,
    );
  return [
    compare("/metrics scrape", "metrics"),
    compare("retention batch of 1,000 pipelines", "pipelines"),
    compare("retention batch of 1,000 finished workflows", "workflows"),
    compare("retention batch of 1,000 events", "events"),
    compare("reconciliation work list", "sweep"),
  ];
}

if (import.meta.main) {
  const { printTable } = await import("./lib.ts");
  printTable(await runFlat({ quick: process.argv.includes("--quick") }));
}
