/**
 * `bun bench/query-pipelines.ts`: sh.tangled.ci.queryPipelines as the appview calls it (one
 * repo, limit 30) against a log of 100,000 pipelines over 100 repos, answered by tack's real
 * service (indexed page + count + each pipeline's workflows), beside a bare Bun.serve sending
 * the same JSON body from memory. Requests/s with 32 in flight, measured at the client.
 */
import { format, type Row, startServer } from "./lib.ts";

const PIPELINES = 100_000;
const REPOS = 100;
const REQUESTS = 5_000;
const CONCURRENCY = 32;

function url(port: number, repo: number): string {
  const did = `did:plc:benchrepo${String(repo).padStart(15, "0")}`;
  return `http://127.0.0.1:${port}/xrpc/sh.tangled.ci.queryPipelines?repo=${did}&limit=30`;
}

async function load(port: number): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < REQUESTS) {
      const response = await fetch(url(port, next++ % REPOS));
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`queryPipelines answered ${response.status}`);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return REQUESTS / ((performance.now() - started) / 1000);
}

export async function runQueryPipelines(): Promise<Row[]> {
  const tackServer = await startServer("query-pipelines-tack", {
    BENCH_PIPELINES: String(PIPELINES),
    BENCH_REPOS: String(REPOS),
  });
  const body = await (await fetch(url(tackServer.port, 0))).text();
  await load(tackServer.port); // warm-up
  const tack = await load(tackServer.port);
  await tackServer.stop();
  const bare = await startServer("query-pipelines-baseline", { BENCH_BODY: body });
  await load(bare.port);
  const baseline = await load(bare.port);
  await bare.stop();
  return [
    {
      benchmark: `queryPipelines, limit 30, ${format(PIPELINES)} pipelines in the log`,
      unit: "requests/s",
      tack,
      baseline,
      higherIsBetter: true,
    },
  ];
}

if (import.meta.main) {
  const [row] = await runQueryPipelines();
  console.log(
    `queryPipelines: tack ${format(row?.tack ?? 0)} requests/s, bare Bun ${format(row?.baseline ?? 0)} requests/s`,
  );
}
