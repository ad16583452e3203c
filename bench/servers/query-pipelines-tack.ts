/**
 * tack's real service with BENCH_PIPELINES pipelines (spread over BENCH_REPOS repos, one
 * finished workflow each) already recorded, for the queryPipelines benchmark.
 */
import { silentLogger } from "../../src/log.ts";
import { startTack } from "../../src/tack.ts";
import type { PipelineRecord } from "../../src/tangled/lexicons.ts";
import { benchConfig } from "./protocol.ts";

const count = Number(process.env.BENCH_PIPELINES ?? 100_000);
const repos = Number(process.env.BENCH_REPOS ?? 100);
const KNOT = "knot.bench.example";
const tack = await startTack(benchConfig(), silentLogger);

const record = (i: number): PipelineRecord => ({
  triggerMetadata: {
    kind: "push",
    repo: { knot: KNOT, did: "did:plc:bench", repoDid: repoDid(i % repos), defaultBranch: "main" },
    push: {
      ref: "refs/heads/main",
      newSha: i.toString(16).padStart(40, "0"),
      oldSha: "0".repeat(40),
    },
  },
  workflows: [
    {
      name: "ci.yml",
      engine: "tack",
      raw: "tack: { fake: {} }\n",
      clone: { skip: false, depth: 1, submodules: true, tags: true },
    },
  ],
});

for (let i = 0; i < count; i += 1_000) {
  await Promise.all(
    Array.from({ length: Math.min(1_000, count - i) }, async (_, j) => {
      const rkey = tack.broker.store.mintTid();
      const pipeline = await tack.pipelines.recordFromKnot(KNOT, rkey, record(i + j));
      if (!pipeline) throw new Error("bench: pipeline not recorded");
      await tack.workflows.create(
        { knot: KNOT, pipelineRkey: rkey, name: "ci.yml" },
        { provider: "fake", options: {}, context: {} },
        "success",
      );
    }),
  );
}
process.stdout.write(`ready ${tack.port}\n`);

function repoDid(n: number): string {
  return `did:plc:benchrepo${String(n).padStart(15, "0")}`;
}
