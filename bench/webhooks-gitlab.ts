/**
 * `bun bench/webhooks-gitlab.ts`: GitLab `Pipeline Hook` deliveries (status running), each with
 * the webhook's secret token and its own Idempotency-Key, against tack's service in-process
 * with the GitLab provider (its pipelines created on the GitLab API stand-in first), beside a
 * bare Bun.serve answering the same requests. Sent from this process with fetch, 64 in flight
 * (the Buildkite rows in bench/webhooks.ts use wrk against the compiled binary instead).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config.ts";
import { silentLogger } from "../src/log.ts";
import { dispatchWorkflow } from "../src/pipeline/dispatch.ts";
import { startTack } from "../src/tack.ts";
import { FakeGitlab, gitlabEnv, gitlabHeaders } from "../test/helpers/fake-gitlab.ts";
import { type Row, startServer } from "./lib.ts";

const WEBHOOKS = 4_000;
const CONCURRENCY = 64;
const WARMUP = 200;
const KNOT = "knot.bench.example";

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

if (import.meta.main) {
  const mode = process.argv[2];
  if (mode === "serve-tack-gitlab")
    await serveTackGitlab(process.argv[3] ?? "", Number(process.argv[4]));
  else printGitlabResults(await measureGitlabWebhooks());
}

/** The row for the summary table (bench/run.ts). */
export async function runGitlabWebhooks(): Promise<Row[]> {
  const gitlab = await measureGitlabWebhooks();
  return [
    {
      benchmark: "GitLab webhook ingest (token, de-dup, commit, publish; in-process, fetch)",
      unit: "webhooks/s",
      tack: gitlab.fresh.perSecond,
      baseline: gitlab.baseline.perSecond,
      higherIsBetter: true,
    },
  ];
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

  const bareServer = await startServer("bare-post");
  const bare = { url: `http://127.0.0.1:${bareServer.port}`, stop: () => bareServer.stop() };
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
