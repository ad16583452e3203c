/**
 * `bun bench/replay.ts [--quick]`: one /events client with no cursor replaying a backlog of
 * 1,000,000 events (100,000 with --quick) from a seeded database, counted at the client by a raw
 * socket reader that is not the bottleneck. tack is the compiled binary; beside it, on the same
 * database file: a bare Bun.serve that pages the same table with one prepared statement and
 * sends corked pages (the fair limit), and a process that only scans the table building the
 * same frames (the raw limit). Median of 3 alternating runs, with min–max.
 */

import { join } from "node:path";
import { alternate, buildTack, type Row, row, startCompiled, startTackBinary } from "./lib.ts";
import { seededLog } from "./seed.ts";
import { countFrames } from "./ws-counter.ts";

async function replayRate(port: number, path: string, events: number): Promise<number> {
  const started = performance.now();
  const counter = await countFrames(port, path, events);
  await counter.done;
  const seconds = (performance.now() - started) / 1000;
  counter.close();
  return events / seconds;
}

async function scanRate(db: string): Promise<number> {
  const child = Bun.spawn(["bun", join(import.meta.dir, "servers", "scan.ts")], {
    env: { ...process.env, BENCH_DB: db },
    stdout: "pipe",
    stderr: "inherit",
  });
  const out = await new Response(child.stdout).text();
  await child.exited;
  const [, rows, seconds] = /^scanned (\d+) ([0-9.]+)/.exec(out) ?? [];
  return Number(rows) / Number(seconds);
}

export async function runReplay(options: { quick?: boolean } = {}): Promise<Row[]> {
  await buildTack();
  const events = options.quick ? 100_000 : 1_000_000;
  const db = seededLog(events);
  const runs = options.quick ? 1 : 3;
  const [tack, bare, scan] = await alternate(runs, [
    async () => {
      const server = await startTackBinary(db, { TACK_EVENTS_RETENTION: "0" });
      try {
        return await replayRate(server.port, "/events", events);
      } finally {
        await server.stop();
      }
    },
    async () => {
      const server = await startCompiled("replay-bare", { BENCH_DB: db });
      try {
        return await replayRate(server.port, "/", events);
      } finally {
        await server.stop();
      }
    },
    () => scanRate(db),
  ]);
  if (!tack || !bare || !scan) throw new Error("replay: missing measurements");
  const what = `backlog replay, ${events.toLocaleString("en-US")} events to 1 client`;
  return [
    row(`${what}, vs bare SQLite→WebSocket`, "events/s", tack, bare, true),
    row(`${what}, vs raw table scan`, "events/s", tack, scan, true),
  ];
}

if (import.meta.main) {
  const { printTable } = await import("./lib.ts");
  printTable(await runReplay({ quick: process.argv.includes("--quick") }));
}
