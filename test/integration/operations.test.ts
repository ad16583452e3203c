/** What an operator relies on: /healthz, /metrics, retention, backups. */
import { Database } from "bun:sqlite";
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { runBackup } from "../../src/commands/backup.ts";
import { BINARY_SCHEMA_VERSION } from "../../src/db/migrate.ts";
import { buildkiteBuilds } from "../../src/providers/buildkite/table.ts";
import type { PipelineRecord } from "../../src/tangled/lexicons.ts";
import { COMMIT, VERSION } from "../../src/version.ts";
import { FakeBuildkite } from "../helpers/fake-buildkite.ts";
import { startTestTack, tempDir } from "../helpers/tack.ts";
import { until } from "../helpers/wait.ts";
import { pipelineRecord } from "../helpers/wire.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

/** Parses Prometheus text exposition into "name{labels}" → value. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (!match?.[1] || !match[2]) throw new Error(`not exposition format: ${line}`);
    samples.set(match[1], Number(match[2]));
  }
  return samples;
}

describe("/healthz", () => {
  test("200 with the service's state while the database takes writes", async () => {
    await using service = await startTestTack();
    const response = await fetch(`${service.http}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      status: "ok",
      reasons: [],
      version: VERSION,
      commit: COMMIT,
      schema_version: BINARY_SCHEMA_VERSION,
      database: { writable: true },
      // Not reachable in this test, but within the grace period: not yet a problem.
      jetstream: {
        connected: false,
        disconnected_seconds: expect.any(Number),
        lag_seconds: null,
      },
      knots: { followed: 0, connected: 0, disconnected: [] },
      providers: ["fake"],
    });
  });

  test("503 when the database refuses writes", async () => {
    await using service = await startTestTack();
    service.tack.database.sqlite.run("PRAGMA query_only = ON");
    const response = await fetch(`${service.http}/healthz`);
    expect(response.status).toBe(503);
    const report = (await response.json()) as {
      status: string;
      database: { writable: boolean; error: string };
    };
    expect(report.status).toBe("unavailable");
    expect(report.database.writable).toBe(false);
    expect(report.database.error).toContain("readonly");
    service.tack.database.sqlite.run("PRAGMA query_only = OFF");
    expect((await fetch(`${service.http}/healthz`)).status).toBe(200);
  });
});

describe("/metrics", () => {
  test("exposes Prometheus text whose counters move when things happen", async () => {
    await using service = await startTestTack();
    const scrape = async () => {
      const response = await fetch(`${service.http}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toStartWith("text/plain");
      return parseMetrics(await response.text());
    };
    const before = await scrape();
    expect(before.get("tack_events_subscribers")).toBe(0);
    expect(before.get("tack_knots_followed")).toBe(0);

    const subscriber = new WebSocket(`${service.ws}/events`);
    await new Promise((resolve) => subscriber.addEventListener("open", resolve));
    await service.tack.workflows.create(
      { knot: "knot.test", pipelineRkey: "3m6mxh2znw222", name: "ci.yml" },
      { provider: "fake", options: {}, context: {} },
      "pending",
    );
    await service.tack.intake.accept("knot.test", "3m6mxh2znw223", { not: "a pipeline" });
    await fetch(`${service.http}/webhooks/buildkite`, { method: "POST", body: "{}" });

    const after = await scrape();
    expect(after.get('tack_events_published_total{nsid="sh.tangled.pipeline.status"}')).toBe(1);
    expect(after.get("tack_events_subscribers")).toBe(1);
    expect(after.get('tack_workflows{status="pending"}')).toBe(1);
    expect(after.get('tack_triggers_total{outcome="malformed"}')).toBe(1);
    expect(after.get('tack_webhooks_total{provider="buildkite",result="unconfigured"}')).toBe(1);
    subscriber.close();
  });
});

describe("retention", () => {
  test("prunes old events but keeps every workflow's latest status", async () => {
    let offsetMs = 0; // the service's clock, moved forward below
    await using service = await startTestTack({
      overrides: { clock: { now: () => Date.now() + offsetMs, sleep: (ms) => Bun.sleep(ms) } },
    });
    const { workflows, broker } = service.tack;
    const a = { knot: "knot.test", pipelineRkey: "3m6mxh2znw222", name: "a.yml" };
    const b = { knot: "knot.test", pipelineRkey: "3m6mxh2znw222", name: "b.yml" };
    const init = { provider: "fake", options: {}, context: {} };
    // Their pipeline is retained (it never finished dispatching), so both workflows stay.
    const record = pipelineRecord({ knot: a.knot, did: "did:plc:owner", repoDid: "did:plc:repo" });
    await service.tack.pipelines.recordFromKnot(a.knot, a.pipelineRkey, record as PipelineRecord);
    await workflows.create(a, init, "pending");
    await workflows.create(b, init, "pending");
    await workflows.transition(a, "failed", { error: "x" });
    const noise = [];
    for (let i = 0; i < 2_500; i++) noise.push(broker.publish("test.noise", { i }));
    await Promise.all(noise);

    offsetMs = 31 * 86_400_000; // everything is now older than the 30-day retention
    const deleted = await service.tack.retention.runOnce();
    expect(deleted.events).toBe(2_501); // 2,500 noise rows and a.yml's superseded "pending"
    const left = broker.store
      .after(0n, 100)
      .map((row) => JSON.parse(row.event) as { workflow: string; status: string });
    expect(left).toEqual([
      expect.objectContaining({ workflow: "b.yml", status: "pending" }),
      expect.objectContaining({ workflow: "a.yml", status: "failed" }),
    ]);
  });

  test("a finished workflow whose pipeline is gone leaves with its history; unfinished ones stay", async () => {
    let offsetMs = 0;
    await using service = await startTestTack({
      overrides: { clock: { now: () => Date.now() + offsetMs, sleep: (ms) => Bun.sleep(ms) } },
    });
    const { workflows, broker } = service.tack;
    const done = { knot: "knot.test", pipelineRkey: "3m6mxh2znw333", name: "done.yml" };
    const waiting = { knot: "knot.test", pipelineRkey: "3m6mxh2znw333", name: "waiting.yml" };
    const init = { provider: "fake", options: {}, context: {} };
    await workflows.create(done, init, "pending");
    await workflows.create(waiting, init, "pending");
    await workflows.transition(done, "success");
    const gauge = async () => parseMetrics(await (await fetch(`${service.http}/metrics`)).text());
    expect((await gauge()).get('tack_workflows{status="success"}')).toBe(1);

    offsetMs = 31 * 86_400_000;
    const deleted = await service.tack.retention.runOnce();
    expect(deleted.workflows).toBe(1);
    expect(deleted.events).toBe(2); // done.yml's pending and success
    expect(workflows.get(done)).toBeUndefined();
    expect(workflows.get(waiting)?.status).toBe("pending");
    const left = broker.store.after(0n, 10).map((row) => JSON.parse(row.event));
    expect(left).toEqual([expect.objectContaining({ workflow: "waiting.yml", status: "pending" })]);
    const after = await gauge();
    expect(after.get('tack_workflows{status="success"}')).toBe(0);
    expect(after.get('tack_workflows{status="pending"}')).toBe(1);
  });

  test("nothing younger than the retention period is touched", async () => {
    await using service = await startTestTack();
    await service.tack.broker.publish("test.noise", { i: 1 });
    const deleted = await service.tack.retention.runOnce();
    expect(deleted.events).toBe(0);
    expect(service.tack.broker.store.after(0n, 10)).toHaveLength(1);
  });
});

describe("tack backup", () => {
  test("a backup taken during writes opens cleanly and holds a consistent log", async () => {
    await using service = await startTestTack();
    let writing = true;
    let written = 0;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        await service.tack.broker.publish("test.noise", { i });
        written = i + 1;
      }
    })();
    await until(() => written >= 20, "writes under way");
    const target = join(tempDir(), "backup.db");
    const lines: string[] = [];
    expect(runBackup(service.config.dbPath, target, (line) => lines.push(line))).toBe(0);
    writing = false;
    await writer;
    expect(lines[0]).toStartWith(`tack backup: wrote ${target}`);
    const copy = new Database(target, { readonly: true });
    expect(copy.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
    const rows = copy.query("select created from events order by created").all() as {
      created: number;
    }[];
    expect(rows.length).toBeGreaterThan(0);
    copy.close();
    expect(runBackup(service.config.dbPath, target, () => {})).toBe(1); // never overwrites
  });
});

describe("retention of build references", () => {
  test("finished Buildkite builds are forgotten after the retention period; running ones stay", async () => {
    const fake = FakeBuildkite.start();
    let offsetMs = 0;
    await using service = await startTestTack({
      config: {
        providers: {
          buildkite: {
            token: fake.token,
            org: "acme",
            webhookSecret: "s",
            webhookMode: "token",
            apiUrl: fake.url,
          },
        },
      },
      overrides: { clock: { now: () => Date.now() + offsetMs, sleep: (ms) => Bun.sleep(ms) } },
    });
    const row = (buildUuid: string, state: string) => ({
      buildUuid,
      knot: "knot.test",
      pipelineRkey: "3m6mxh2znw222",
      workflow: `${buildUuid}.yml`,
      org: "acme",
      pipeline: "app",
      number: 1,
      webUrl: null,
      state,
      lastSeenAt: Date.now(),
      createdAt: Date.now(),
    });
    service.tack.database.db
      .insert(buildkiteBuilds)
      .values([row("finished-build", "passed"), row("running-build", "running")])
      .run();
    offsetMs = 31 * 86_400_000;
    const deleted = await service.tack.retention.runOnce();
    expect(deleted.buildkite_builds).toBe(1);
    const left = service.tack.database.db
      .select({ uuid: buildkiteBuilds.buildUuid })
      .from(buildkiteBuilds)
      .all();
    expect(left).toEqual([{ uuid: "running-build" }]);
    fake.stop();
  });
});
