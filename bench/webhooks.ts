/**
 * `bun bench/webhooks.ts`: signed Buildkite webhooks end to end. Each delivery is verified
 * (HMAC-SHA256 signature mode), de-duplicated, applied (a pending → running status committed
 * with fsync and published on /events, then the build row and the delivery key committed)
 * and answered 200. Measured at the sender: webhooks/s and p50/p99 latency, for tack's real
 * service beside a bare Bun.serve that answers 200 to the same requests, in the same run.
 *
 * Two rows for tack: fresh deliveries (every one moves a different workflow forward) and the
 * exact same deliveries replayed (each answered "duplicate" from the de-duplication check).
 *
 * Processes: this driver (sender, and the Buildkite API stand-in tack spawns builds on), and
 * one server process per measurement, started by re-running this file with `serve-tack` or
 * `serve-baseline`. Everything is on 127.0.0.1.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config.ts";
import { silentLogger } from "../src/log.ts";
import { dispatchWorkflow } from "../src/pipeline/dispatch.ts";
import { startTack } from "../src/tack.ts";
import { FakeBuildkite } from "../test/helpers/fake-buildkite.ts";
import { FakeGitlab, gitlabEnv, gitlabHeaders } from "../test/helpers/fake-gitlab.ts";
import { buildkiteHeaders } from "../test/helpers/sign-buildkite.ts";
import type { Row } from "./lib.ts";

const WEBHOOKS = 4_000;
const CONCURRENCY = 64;
const WARMUP = 200;
const TOKEN = "bench-buildkite-token";
const SECRET = "bench-webhook-secret-0123456789";
const KNOT = "knot.bench.example";

if (import.meta.main) {
  const mode = process.argv[2];
  if (mode === "serve-tack") await serveTack(process.argv[3] ?? "", Number(process.argv[4]));
  else if (mode === "serve-tack-gitlab")
    await serveTackGitlab(process.argv[3] ?? "", Number(process.argv[4]));
  else if (mode === "serve-baseline") await serveBaseline();
  else {
    printResults(await measureWebhooks());
    printGitlabResults(await measureGitlabWebhooks());
  }
}

/** Rows for the summary table (bench/run.ts). */
export async function runWebhooks(): Promise<Row[]> {
  const { baseline, fresh, replayed } = await measureWebhooks();
  const gitlab = await measureGitlabWebhooks();
  return [
    {
      benchmark: "signed webhook ingest (verify, de-dup, commit, publish)",
      unit: "webhooks/s",
      tack: fresh.perSecond,
      baseline: baseline.perSecond,
      higherIsBetter: true,
    },
    {
      benchmark: "signed webhook ingest p99",
      unit: "ms",
      tack: fresh.p99,
      baseline: baseline.p99,
      higherIsBetter: false,
    },
    {
      benchmark: "replayed webhook (verify, de-dup → duplicate)",
      unit: "webhooks/s",
      tack: replayed.perSecond,
      baseline: baseline.perSecond,
      higherIsBetter: true,
    },
    {
      benchmark: "GitLab webhook ingest (token, de-dup, commit, publish)",
      unit: "webhooks/s",
      tack: gitlab.fresh.perSecond,
      baseline: gitlab.baseline.perSecond,
      higherIsBetter: true,
    },
  ];
}

interface Delivery {
  body: string;
  headers: Record<string, string>;
}

interface Result {
  perSecond: number;
  p50: number;
  p99: number;
  failures: number;
}

async function measureWebhooks(): Promise<{ baseline: Result; fresh: Result; replayed: Result }> {
  const fake = FakeBuildkite.start(TOKEN);
  const total = WARMUP + WEBHOOKS;

  const tack = await start(["serve-tack", fake.url, String(total)]);
  const deliveries = [...fake.builds.values()].map((build) => {
    fake.update(build, { state: "running" });
    const body = JSON.stringify(fake.webhook("build.running", build));
    const headers = buildkiteHeaders({
      mode: "signature",
      secret: SECRET,
      event: "build.running",
      body,
      nowMs: Date.now(),
    });
    return { body, headers };
  });
  if (deliveries.length !== total)
    throw new Error(`expected ${total} builds, have ${deliveries.length}`);
  await fire(tack.url, deliveries.slice(0, WARMUP), "ok\n");
  const fresh = await fire(tack.url, deliveries.slice(WARMUP), "ok\n");
  const replayed = await fire(tack.url, deliveries.slice(WARMUP), "duplicate\n");
  await tack.stop();

  const bare = await start(["serve-baseline"]);
  await fire(bare.url, deliveries.slice(0, WARMUP), "ok\n");
  const baseline = await fire(bare.url, deliveries.slice(WARMUP), "ok\n");
  await bare.stop();
  fake.stop();
  return { baseline, fresh, replayed };
}

function printResults({
  baseline,
  fresh,
  replayed,
}: {
  baseline: Result;
  fresh: Result;
  replayed: Result;
}): void {
  console.log(
    `Buildkite webhooks — Bun ${Bun.version}, ${navigator.hardwareConcurrency} cores, ${WEBHOOKS.toLocaleString("en-US")} deliveries, ${CONCURRENCY} in flight`,
  );
  console.log(
    "| server | deliveries | webhooks/s | p50 ms | p99 ms | wrong answers | vs bare Bun.serve |",
  );
  console.log("|---|---|---:|---:|---:|---:|---:|");
  const row = (name: string, what: string, r: Result, ratio: boolean) =>
    console.log(
      `| ${name} | ${what} | ${fmt(r.perSecond)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${r.failures} | ${ratio ? `${fmt((r.perSecond / baseline.perSecond) * 100, 1)} %` : ""} |`,
    );
  row("bare Bun.serve (200, no work)", "same requests", baseline, false);
  row("tack", "fresh: verify, de-dup, commit, publish", fresh, true);
  row("tack", "replays: verify, de-dup → duplicate", replayed, true);
}

/**
 * Sends every delivery with CONCURRENCY in flight; latency is send → full response. An answer
 * other than 200 with `expected` as its body counts as a failure.
 */
async function fire(
  url: string,
  deliveries: Delivery[],
  expected: string,
  provider = "buildkite",
): Promise<Result> {
  const latencies: number[] = [];
  let failures = 0;
  let next = 0;
  const startedAt = performance.now();
  const worker = async () => {
    while (next < deliveries.length) {
      const delivery = deliveries[next++];
      if (!delivery) return;
      const sentAt = performance.now();
      const response = await fetch(`${url}/webhooks/${provider}`, {
        method: "POST",
        headers: delivery.headers,
        body: delivery.body,
      });
      const text = await response.text();
      latencies.push(performance.now() - sentAt);
      if (response.status !== 200 || text !== expected) failures++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - startedAt) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    perSecond: deliveries.length / seconds,
    p50: latencies[Math.floor(latencies.length * 0.5)] ?? Number.NaN,
    p99: latencies[Math.floor(latencies.length * 0.99)] ?? Number.NaN,
    failures,
  };
}

/** Starts a server process of this file and waits for its `ready <port>` line. */
async function start(args: string[]): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = Bun.spawn(
    [
      "bun",
      ...(process.env.BENCH_PROFILE ? ["--cpu-prof", "--cpu-prof-dir=/tmp/prof"] : []),
      import.meta.path,
      ...args,
    ],
    {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "inherit",
    },
  );
  const reader = child.stdout.getReader();
  let buffer = "";
  while (!buffer.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${args[0]}: exited before it was ready`);
    buffer += new TextDecoder().decode(value);
  }
  const port = Number(/^ready (\d+)/.exec(buffer)?.[1]);
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      child.stdin.write("quit\n");
      await child.stdin.end();
      await child.exited;
    },
  };
}

/** tack with the Buildkite provider, `count` workflows already spawned on the stand-in. */
async function serveTack(apiUrl: string, count: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "tack-bench-webhooks-"));
  const { config } = loadConfig({
    TACK_HOSTNAME: "bench.example",
    TACK_OWNER_DID: "did:plc:bench",
    TACK_LISTEN_ADDR: "127.0.0.1:0",
    TACK_DB_PATH: join(dir, "tack.db"),
    TACK_JETSTREAM_URL: "ws://127.0.0.1:1/subscribe",
    TACK_DEV: "true",
    TACK_LOG_LEVEL: "error",
    TACK_BUILDKITE_TOKEN: TOKEN,
    TACK_BUILDKITE_ORG: "bench",
    TACK_BUILDKITE_WEBHOOK_SECRET: SECRET,
    TACK_BUILDKITE_WEBHOOK_MODE: "signature",
    TACK_BUILDKITE_API_URL: apiUrl,
  });
  const tack = await startTack(config, silentLogger);
  const deps = { workflows: tack.workflows, providers: tack.providers, log: silentLogger };
  const sha = "3f4c1e2d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d";
  const context = {
    kind: "push",
    repo: { did: "did:plc:bench", knot: KNOT, repo: "app", defaultBranch: "main" },
    push: { ref: "refs/heads/main", newSha: sha, oldSha: "0".repeat(40) },
  };
  for (let from = 0; from < count; from += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, count - from) }, (_, i) =>
        dispatchWorkflow(deps, {
          id: { knot: KNOT, pipelineRkey: "3m6mxh2znw222", name: `bench-${from + i}.yml` },
          provider: "buildkite",
          options: { pipeline: "bench" },
          context,
        }),
      ),
    );
  }
  // `pending` went out this second; `running` may go out from the next one (whole-second
  // spacing), so start measuring only then, or the first deliveries would wait for it.
  await Bun.sleep(1_100 - (Date.now() % 1_000));
  process.stdout.write(`ready ${tack.port}\n`);
  await untilQuit();
  await tack.stop();
  rmSync(dir, { recursive: true, force: true });
}

/** The floor: Bun.serve reading the body and answering 200, nothing else. */
async function serveBaseline(): Promise<void> {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      await request.arrayBuffer();
      return new Response("ok\n");
    },
  });
  process.stdout.write(`ready ${server.port}\n`);
  await untilQuit();
  server.stop(true);
}

async function untilQuit(): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of Bun.stdin.stream()) {
    buffer += decoder.decode(chunk);
    if (buffer.includes("quit")) return;
  }
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

/**
 * The same measurement for GitLab: `Pipeline Hook` deliveries (status running) with the
 * webhook's secret token and an Idempotency-Key each, against tack with the GitLab provider
 * (its pipelines created on the GitLab API stand-in first), beside the bare server answering
 * the same requests.
 */
async function measureGitlabWebhooks(): Promise<{ baseline: Result; fresh: Result }> {
  const fake = FakeGitlab.start();
  const total = WARMUP + WEBHOOKS;
  const tack = await start(["serve-tack-gitlab", fake.url, String(total)]);
  const deliveries = [...fake.pipelines.values()].map((pipeline) => {
    fake.setPipeline(pipeline.id, { status: "running" });
    return {
      body: JSON.stringify(fake.pipelineHook(pipeline)),
      headers: gitlabHeaders({ event: "Pipeline Hook" }),
    };
  });
  if (deliveries.length !== total)
    throw new Error(`expected ${total} pipelines, have ${deliveries.length}`);
  await fire(tack.url, deliveries.slice(0, WARMUP), "ok\n", "gitlab");
  const fresh = await fire(tack.url, deliveries.slice(WARMUP), "ok\n", "gitlab");
  await tack.stop();

  const bare = await start(["serve-baseline"]);
  await fire(bare.url, deliveries.slice(0, WARMUP), "ok\n", "gitlab");
  const baseline = await fire(bare.url, deliveries.slice(WARMUP), "ok\n", "gitlab");
  await bare.stop();
  fake.stop();
  return { baseline, fresh };
}

function printGitlabResults({ baseline, fresh }: { baseline: Result; fresh: Result }): void {
  console.log(
    `\nGitLab webhooks — ${WEBHOOKS.toLocaleString("en-US")} deliveries, ${CONCURRENCY} in flight`,
  );
  console.log(
    "| server | deliveries | webhooks/s | p50 ms | p99 ms | wrong answers | vs bare Bun.serve |",
  );
  console.log("|---|---|---:|---:|---:|---:|---:|");
  for (const [name, what, r] of [
    ["bare Bun.serve (200, no work)", "same requests", baseline],
    ["tack", "fresh: token, de-dup, commit, publish", fresh],
  ] as const) {
    const share = r === baseline ? "" : `${fmt((r.perSecond / baseline.perSecond) * 100, 1)} %`;
    console.log(
      `| ${name} | ${what} | ${fmt(r.perSecond)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${r.failures} | ${share} |`,
    );
  }
}

/** tack with the GitLab provider, `count` workflows' pipelines already created on the stand-in. */
async function serveTackGitlab(url: string, count: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "tack-bench-gitlab-"));
  const { config } = loadConfig({
    TACK_HOSTNAME: "bench.example",
    TACK_OWNER_DID: "did:plc:bench",
    TACK_LISTEN_ADDR: "127.0.0.1:0",
    TACK_DB_PATH: join(dir, "tack.db"),
    TACK_JETSTREAM_URL: "ws://127.0.0.1:1/subscribe",
    TACK_DEV: "true",
    TACK_LOG_LEVEL: "error",
    ...gitlabEnv({ url }),
  });
  const tack = await startTack(config, silentLogger);
  const deps = { workflows: tack.workflows, providers: tack.providers, log: silentLogger };
  const context = {
    kind: "push",
    repo: { did: "did:plc:bench", knot: KNOT, repo: "app", defaultBranch: "main" },
    push: {
      ref: "refs/heads/main",
      newSha: "3f4c1e2d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
      oldSha: "0".repeat(40),
    },
  };
  for (let from = 0; from < count; from += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, count - from) }, (_, i) =>
        dispatchWorkflow(deps, {
          id: { knot: KNOT, pipelineRkey: "3m6mxh2znw223", name: `bench-${from + i}.yml` },
          provider: "gitlab",
          options: { project: "acme/tangled-runner" },
          context,
        }),
      ),
    );
  }
  // As above: `running` may go out from the next whole second only.
  await Bun.sleep(1_100 - (Date.now() % 1_000));
  process.stdout.write(`ready ${tack.port}\n`);
  await untilQuit();
  await tack.stop();
  rmSync(dir, { recursive: true, force: true });
}
