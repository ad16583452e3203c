/**
 * `bun bench/webhooks.ts [--quick]`: signed Buildkite webhooks under `wrk`, 64 connections.
 *
 * tack (the compiled binary, default logging) on a database with pending Buildkite workflows,
 * each with its build recorded: every delivery is a different build's `build.running`, so each
 * one is HMAC-verified, parsed, de-duplicated, and moves its workflow pending → running (status
 * event, build row and delivery key committed together with fsync, then published). A second
 * tack row replays deliveries already applied (verify, de-dup → "duplicate").
 *
 * Beside it, in the same run: the bare limit (Bun.serve reading the body and answering 200), the
 * naive durable limit (one SQLite insert with its own fsync per delivery, no group commit), and
 * the minimal durable server (servers/webhook-grouped.ts: the same verification, lookups and
 * writes as tack, grouped one fsync per turn of the event loop, with no framework around them).
 * Each row is the median of 3 alternating runs, with min–max.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fixture from "../test/fixtures/buildkite/build.running.json" with { type: "json" };
import { buildkiteSignature } from "../test/helpers/sign-buildkite.ts";
import { buildTack, type Row, row, runWrk, spread, startServer, startTackBinary } from "./lib.ts";
import { seedDatabase, seededBuild } from "./seed.ts";

const SECRET = "bench-webhook-secret-0123456789";
const CONNECTIONS = 64;
const SCRIPT = join(import.meta.dir, "wrk", "webhooks.lua");
export const BUILDKITE_ENV = {
  TACK_BUILDKITE_TOKEN: "bench-buildkite-token",
  TACK_BUILDKITE_ORG: "bench",
  TACK_BUILDKITE_WEBHOOK_SECRET: SECRET,
  TACK_BUILDKITE_WEBHOOK_MODE: "signature",
  // Nothing listens there: a running build needs no API read.
  TACK_BUILDKITE_API_URL: "http://127.0.0.1:9",
};

interface Measured {
  perSecond: number;
  p50: number;
  p99: number;
}

/** Signed `build.running` deliveries for seeded builds 0…count-1 (see seed.ts). */
export function signedDeliveries(count: number): { signature: string; body: string }[] {
  const timestamp = Math.floor(Date.now() / 1000);
  return Array.from({ length: count }, (_, i) => {
    const build = seededBuild(i);
    const body = JSON.stringify({
      ...fixture,
      build: {
        ...fixture.build,
        id: build.uuid,
        number: build.number,
        meta_data: {
          "tack:knot": build.knot,
          "tack:pipeline_rkey": build.pipelineRkey,
          "tack:workflow": build.workflow,
        },
      },
    });
    return { signature: buildkiteSignature(SECRET, body, timestamp), body };
  });
}

/** One line per delivery for the wrk script: signature header, tab, body. */
function requestFile(dir: string, count: number): string {
  const lines = signedDeliveries(count).map(({ signature, body }) => `${signature}\t${body}`);
  const path = join(dir, "requests.txt");
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

export async function runWebhooks(options: { quick?: boolean } = {}): Promise<Row[]> {
  await buildTack();
  const seconds = options.quick ? 2 : 5;
  // Enough fresh deliveries that no run can use them all (wrk counts any it had to repeat).
  const deliveries = options.quick ? 40_000 : 100_000;
  const dir = mkdtempSync(join(tmpdir(), "tack-bench-webhooks-"));
  const seeded = seedDatabase(join(dir, "seed.db"), {
    events: 0,
    workflows: 0,
    buildkitePending: deliveries,
  });
  const requests = requestFile(dir, deliveries);
  const wrk = (port: number, expect: string) =>
    runWrk({
      url: `http://127.0.0.1:${port}`,
      script: SCRIPT,
      seconds,
      connections: CONNECTIONS,
      env: { BENCH_REQUESTS: requests, BENCH_EXPECT: expect },
    });
  // The limits may see a delivery twice (it costs them the same); tack must not: a repeat
  // would be a cheaper duplicate.
  const checked = (
    what: string,
    result: Awaited<ReturnType<typeof wrk>>,
    repeatsAllowed = true,
  ): Measured => {
    if (result.wrong > 0 || (!repeatsAllowed && result.exhausted > 0))
      throw new Error(`${what}: ${result.wrong} wrong answers, ${result.exhausted} repeats`);
    return result;
  };

  const bare: Measured[] = [];
  const naive: Measured[] = [];
  const grouped: Measured[] = [];
  const fresh: Measured[] = [];
  const replayed: Measured[] = [];
  for (let run = 0; run < (options.quick ? 1 : 3); run++) {
    const server = await startServer("bare-post");
    bare.push(checked("bare", await wrk(server.port, "ok\n")));
    await server.stop();

    const naiveDb = join(dir, `naive-${run}.db`);
    const naiveServer = await startServer("webhook-naive", { BENCH_DB: naiveDb });
    naive.push(checked("naive", await wrk(naiveServer.port, "ok\n")));
    await naiveServer.stop();

    const groupedServer = await startServer("webhook-grouped", {
      BENCH_DB: join(dir, `grouped-${run}.db`),
      BENCH_SECRET: SECRET,
      BENCH_BUILDS: String(deliveries),
    });
    grouped.push(checked("grouped", await wrk(groupedServer.port, "ok\n"), false));
    await groupedServer.stop();

    const db = join(dir, `tack-${run}.db`);
    copyFileSync(seeded, db);
    const tack = await startTackBinary(db, BUILDKITE_ENV);
    // A failed check must not leave tack running after the bench exits.
    try {
      fresh.push(checked("tack", await wrk(tack.port, "ok\n"), false));
      // The same deliveries again, up to as many as were applied: all duplicates now.
      const applied = Math.floor((fresh.at(-1)?.perSecond ?? 0) * seconds * 0.95);
      const replay = await runWrk({
        url: `http://127.0.0.1:${tack.port}`,
        script: SCRIPT,
        seconds,
        connections: CONNECTIONS,
        env: {
          BENCH_REQUESTS: requests,
          BENCH_EXPECT: "duplicate\n",
          BENCH_LIMIT: String(applied),
        },
      });
      // Deliveries still in flight when the fresh run's wrk stopped may not have been applied.
      if (replay.wrong > CONNECTIONS)
        throw new Error(`tack replays: ${replay.wrong} wrong answers`);
      replayed.push(replay);
    } finally {
      await tack.stop();
    }
  }
  rmSync(dir, { recursive: true, force: true });

  const rate = (values: Measured[]) => spread(values.map((m) => m.perSecond));
  const p99 = (values: Measured[]) => spread(values.map((m) => m.p99));
  return [
    row("signed webhook ingest vs bare POST→200", "webhooks/s", rate(fresh), rate(bare), true),
    row(
      "signed webhook ingest vs naive one-fsync-per-row",
      "webhooks/s",
      rate(fresh),
      rate(naive),
      true,
    ),
    row(
      "signed webhook ingest vs minimal durable server (same lookups and writes, group commit)",
      "webhooks/s",
      rate(fresh),
      rate(grouped),
      true,
    ),
    row(
      `signed webhook ingest p99, ${CONNECTIONS} in flight, vs the minimal durable server`,
      "ms",
      p99(fresh),
      p99(grouped),
      false,
    ),
    row(
      "replayed webhook (verify, de-dup → duplicate)",
      "webhooks/s",
      rate(replayed),
      rate(bare),
      true,
    ),
  ];
}

if (import.meta.main) {
  const { printTable } = await import("./lib.ts");
  printTable(await runWebhooks({ quick: process.argv.includes("--quick") }));
}
