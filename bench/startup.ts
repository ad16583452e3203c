/**
 * `bun bench/startup.ts [--quick]`: process spawn to the first HTTP 200 on GET /, for the
 * compiled tack (default logging) beside a compiled bare Bun.serve and the smallest compiled
 * Elysia server (the floor of tack's own HTTP stack), on an empty database that
 * was migrated before (an ordinary restart), a brand-new one (first start: every migration), and
 * seeded databases of 10,000 and 1,000,000 events and finished workflows (100,000 with
 * --quick), where start-up must not read finished work. Each run is the median of 5 starts;
 * each row the median of 3 alternating runs, with min–max.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  alternate,
  buildTack,
  firstOk,
  freePort,
  median,
  type Row,
  row,
  startCompiled,
  startTackBinary,
} from "./lib.ts";
import { seededLog } from "./seed.ts";

const STARTS = 5;

/** `server` is one of bench/servers/. */
async function bareStart(server: "bare-http" | "bare-elysia"): Promise<number> {
  // Warm (compiled once, cached) before timing.
  await (await startCompiled(server)).stop();
  const times: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const port = freePort();
    const started = performance.now();
    const child = await startCompiled(server, { PORT: String(port) });
    await firstOk(port);
    times.push(performance.now() - started);
    await child.stop();
  }
  return median(times);
}

async function tackStart(db: () => string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const tack = await startTackBinary(db(), { TACK_EVENTS_RETENTION: "0" });
    times.push(tack.startMs);
    await tack.stop();
  }
  return median(times);
}

export async function runStartup(options: { quick?: boolean } = {}): Promise<Row[]> {
  await buildTack();
  const dir = mkdtempSync(join(tmpdir(), "tack-bench-start-"));
  const runs = options.quick ? 1 : 3;
  const large = options.quick ? 100_000 : 1_000_000;
  const seeded = seededLog;
  const empty = join(dir, "empty.db");
  // Migrated once: every timed start below is a restart.
  await (await startTackBinary(empty)).stop();
  let fresh = 0;
  const small = seeded(10_000);
  const big = seeded(large);
  // One untimed start each, so the page cache holds what a running host's would.
  for (const db of [small, big]) await (await startTackBinary(db)).stop();
  try {
    const [bare, elysia, restart, first, tenK, many] = await alternate(runs, [
      () => bareStart("bare-http"),
      () => bareStart("bare-elysia"),
      () => tackStart(() => empty),
      () => tackStart(() => join(dir, `fresh-${fresh++}.db`)),
      () => tackStart(() => small),
      () => tackStart(() => big),
    ]);
    if (!bare || !elysia || !restart || !first || !tenK || !many)
      throw new Error("startup: missing runs");
    const n = (count: number) => count.toLocaleString("en-US");
    return [
      row("bare Elysia (one route) start to first 200", "ms", elysia, bare, false),
      row("binary start to first 200, empty database", "ms", restart, bare, false),
      row("binary start to first 200, new database (first start)", "ms", first, bare, false),
      row(
        `binary start to first 200, ${n(10_000)} events + ${n(10_000)} finished workflows`,
        "ms",
        tenK,
        bare,
        false,
      ),
      row(
        `binary start to first 200, ${n(large)} events + ${n(large)} finished workflows`,
        "ms",
        many,
        bare,
        false,
      ),
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const { printTable } = await import("./lib.ts");
  printTable(await runStartup({ quick: process.argv.includes("--quick") }));
}
