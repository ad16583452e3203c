/**
 * `bun bench/query-pipelines.ts [--quick]`: sh.tangled.ci.queryPipelines as the appview calls
 * it (one repo, limit 30), under wrk with 32 connections cycling over 100 repos, against the
 * compiled tack on a seeded log of 1,000,000 pipelines (100,000 with --quick; one finished
 * workflow each) beside a compiled bare Bun.serve sending one such page from memory. Median of
 * 3 alternating runs (1 with --quick), with min–max.
 */

import { join } from "node:path";
import {
  alternate,
  buildTack,
  type Row,
  row,
  runWrk,
  startCompiled,
  startTackBinary,
} from "./lib.ts";
import { seededLog } from "./seed.ts";

const SCRIPT = join(import.meta.dir, "wrk", "query-pipelines.lua");

export async function runQueryPipelines(options: { quick?: boolean } = {}): Promise<Row[]> {
  await buildTack();
  const count = options.quick ? 100_000 : 1_000_000;
  const db = seededLog(count);
  const seconds = options.quick ? 2 : 5;
  let body = "";
  const wrk = async (port: number) => {
    const result = await runWrk({
      url: `http://127.0.0.1:${port}`,
      script: SCRIPT,
      seconds,
      connections: 32,
      env: { BENCH_REPOS: "100" },
    });
    if (result.wrong > 0) throw new Error(`queryPipelines: ${result.wrong} answers were not 200`);
    return result.perSecond;
  };
  const [tack, bare] = await alternate(options.quick ? 1 : 3, [
    async () => {
      const server = await startTackBinary(db, { TACK_EVENTS_RETENTION: "0" });
      try {
        body ||= await (
          await fetch(
            `http://127.0.0.1:${server.port}/xrpc/sh.tangled.ci.queryPipelines?repo=did:plc:benchrepo000000000000000&limit=30`,
          )
        ).text();
        return await wrk(server.port);
      } finally {
        await server.stop();
      }
    },
    async () => {
      const server = await startCompiled("query-pipelines-baseline", { BENCH_BODY: body });
      try {
        return await wrk(server.port);
      } finally {
        await server.stop();
      }
    },
  ]);
  if (!tack || !bare) throw new Error("queryPipelines: missing runs");
  return [
    row(
      `queryPipelines, limit 30, ${count.toLocaleString("en-US")} pipelines in the log`,
      "requests/s",
      tack,
      bare,
      true,
    ),
  ];
}

if (import.meta.main) {
  const { printTable } = await import("./lib.ts");
  printTable(await runQueryPipelines({ quick: process.argv.includes("--quick") }));
}
