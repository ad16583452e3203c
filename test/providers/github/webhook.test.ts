/**
 * POST /webhooks/github through the real service: GitHub-signed deliveries (node:crypto), the
 * status each run state maps to, de-duplication, ordering, and every refusal leaving no trace.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import ping from "../../fixtures/github/ping.json";
import type { FakeGithub, FakeRun } from "../../helpers/fake-github.ts";
import { deliverGithub, signGithub, WEBHOOK_SECRET } from "../../helpers/sign-github.ts";
import type { TestTack } from "../../helpers/tack.ts";
import {
  dispatchGithub,
  githubTack,
  jobPayload,
  newWorkflowId,
  runPayload,
  serviceTarget,
  startFakeGithub,
  statusesOf,
  until,
} from "./harness.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

async function spawned(github: FakeGithub, service: TestTack) {
  const id = newWorkflowId();
  await dispatchGithub(serviceTarget(service), id);
  const row = service.tack.database.sqlite
    .query("select correlation_id from github_runs where pipeline_rkey = ?")
    .get(id.pipelineRkey) as { correlation_id: string } | null;
  const run = github.runFor(row?.correlation_id ?? "");
  if (!run) throw new Error("no run dispatched");
  return { id, run };
}

function completed(run: FakeRun, conclusion: string | null) {
  return runPayload({ ...run, status: "completed", conclusion });
}

function deliveriesCount(service: TestTack): bigint {
  const row = service.tack.database.sqlite
    .query("select count(*) as n from webhook_deliveries where provider = 'github'")
    .get() as { n: bigint };
  return row.n;
}

function runState(service: TestTack, runId: number): string | null {
  const row = service.tack.database.sqlite
    .query("select state from github_runs where run_id = ?")
    .get(runId) as { state: string | null } | null;
  return row?.state ?? null;
}

describe("github webhook", () => {
  test("every run conclusion maps to its Tangled status", async () => {
    const github = startFakeGithub();
    const service = await githubTack(github);
    const cases: [string, string, string | undefined][] = [
      ["success", "success", undefined],
      ["neutral", "success", undefined],
      ["failure", "failed", "GitHub Actions run failed: "],
      ["startup_failure", "failed", "GitHub Actions run could not start (startup_failure"],
      ["action_required", "failed", "GitHub Actions run needs action on GitHub (action_required"],
      ["stale", "failed", "GitHub Actions run went stale on GitHub: "],
      ["timed_out", "timeout", undefined],
      ["cancelled", "cancelled", undefined],
      ["skipped", "cancelled", "GitHub Actions skipped the run: "],
    ];
    const workflows = await Promise.all(cases.map(() => spawned(github, service)));
    const results = await Promise.all(
      cases.map(([conclusion], i) => {
        const run = workflows[i]?.run;
        if (!run) throw new Error("missing run");
        return deliverGithub(service.http, {
          event: "workflow_run",
          payload: completed(run, conclusion),
        });
      }),
    );
    for (const result of results) expect(result).toMatchObject({ status: 200, body: "ok\n" });
    cases.forEach(([conclusion, status, error], i) => {
      const workflow = workflows[i];
      if (!workflow) throw new Error("missing workflow");
      const published = statusesOf(service.tack.broker.store, workflow.id);
      expect(published.map((s) => s.status)).toEqual(["pending", status]);
      const last = published.at(-1);
      if (error === undefined) expect(last?.error).toBeUndefined();
      else {
        expect(last?.error).toStartWith(error);
        expect(last?.error).toEndWith(`/actions/runs/${workflow.run.id}`);
      }
      expect(runState(service, workflow.run.id)).toBe(`completed:${conclusion}`);
    });
    const failure = service.tack.broker.store
      .after(0n, 1000)
      .map((row) => JSON.parse(row.event) as { status: string; exitCode?: number })
      .find((record) => record.status === "failed");
    expect(failure?.exitCode).toBe(1);
  });

  test("queued, in_progress and completed walk pending → running → success", async () => {
    const github = startFakeGithub();
    const service = await githubTack(github);
    const { id, run } = await spawned(github, service);
    const send = (status: string, conclusion: string | null) =>
      deliverGithub(service.http, {
        event: "workflow_run",
        payload: runPayload({ ...run, status, conclusion }),
      });
    expect((await send("queued", null)).status).toBe(200);
    expect((await send("in_progress", null)).status).toBe(200);
    expect(runState(service, run.id)).toBe("in_progress");
    expect((await send("completed", "success")).status).toBe(200);
    expect(statusesOf(service.tack.broker.store, id).map((s) => s.status)).toEqual([
      "pending",
      "running",
      "success",
    ]);
  });

  test("a repeated delivery is acknowledged as a duplicate and changes nothing", async () => {
    const github = startFakeGithub();
    const service = await githubTack(github);
    const { id, run } = await spawned(github, service);
    const payload = runPayload({ ...run, status: "in_progress", conclusion: null });
    const first = await deliverGithub(service.http, { event: "workflow_run", payload });
    expect(first).toMatchObject({ status: 200, body: "ok\n" });
    const again = await deliverGithub(service.http, {
      event: "workflow_run",
      payload,
      delivery: first.delivery,
    });
    expect(again).toMatchObject({ status: 200, body: "duplicate delivery\n" });
    expect(statusesOf(service.tack.broker.store, id).map((s) => s.status)).toEqual([
      "pending",
      "running",
    ]);
    expect(deliveriesCount(service)).toBe(1n);
    const metrics = await (await fetch(`${service.http}/metrics`)).text();
    expect(metrics).toContain('tack_webhooks_total{provider="github",result="duplicate"} 1');
  });

  test("out-of-order deliveries never move a workflow backwards", async () => {
    const github = startFakeGithub();
    const service = await githubTack(github);
    const { id, run } = await spawned(github, service);
    // GitHub delivered completed, then in_progress, then requested (incidents do this).
    for (const [status, conclusion] of [
      ["completed", "failure"],
      ["in_progress", null],
      ["queued", null],
    ] as const) {
      const result = await deliverGithub(service.http, {
        event: "workflow_run",
        payload: runPayload({ ...run, status, conclusion }),
      });
      expect(result.status).toBe(200);
    }
    const job = await deliverGithub(service.http, {
      event: "workflow_job",
      payload: jobPayload(run.id, "in_progress"),
    });
    expect(job).toMatchObject({ status: 200, body: "ok\n" });
    expect(statusesOf(service.tack.broker.store, id).map((s) => s.status)).toEqual([
      "pending",
      "failed",
    ]);
    expect(runState(service, run.id)).toBe("completed:failure");
  });

  test("a job starting moves the workflow to running; a queued job changes nothing", async () => {
    const github = startFakeGithub();
    const service = await githubTack(github);
    const { id, run } = await spawned(github, service);
    const queued = await deliverGithub(service.http, {
      event: "workflow_job",
      payload: jobPayload(run.id, "queued"),
    });
    expect(queued.status).toBe(200);
    expect(statusesOf(service.tack.broker.store, id).map((s) => s.status)).toEqual(["pending"]);
    const started = await deliverGithub(service.http, {
      event: "workflow_job",
      payload: jobPayload(run.id, "in_progress"),
    });
    expect(started.status).toBe(200);
    expect(statusesOf(service.tack.broker.store, id).map((s) => s.status)).toEqual([
      "pending",
      "running",
    ]);
  });

  test("a run event that beats the run id links the run by the correlation id in its title", async () => {
    const github = startFakeGithub();
    github.dispatchMode = "no-content";
    github.listLag = 1_000;
    const service = await githubTack(github);
    const id = newWorkflowId();
    const dispatched = dispatchGithub(serviceTarget(service), id);
    await until(() => github.runs.size === 1, "dispatch");
    const run = github.lastRun();
    const result = await deliverGithub(service.http, {
      event: "workflow_run",
      payload: runPayload({ ...run, status: "in_progress", conclusion: null }),
    });
    expect(result).toMatchObject({ status: 200, body: "ok\n" });
    expect(runState(service, run.id)).toBe("in_progress");
    expect(await dispatched).toBe("spawned");
    expect(statusesOf(service.tack.broker.store, id).map((s) => s.status)).toEqual([
      "pending",
      "running",
    ]);
  });

  test("runs tack did not start are acknowledged and ignored", async () => {
    const github = startFakeGithub();
    const service = await githubTack(github);
    const result = await deliverGithub(service.http, {
      event: "workflow_run",
      payload: runPayload({
        id: 123,
        display_title: "Nightly build",
        status: "completed",
        conclusion: "success",
      }),
    });
    expect(result).toMatchObject({ status: 200, body: "ignored: not a run tack started\n" });
    const job = await deliverGithub(service.http, {
      event: "workflow_job",
      payload: jobPayload(123, "queued"),
    });
    expect(job.status).toBe(200);
    expect(deliveriesCount(service)).toBe(0n);
  });

  test("ping and unused events are answered 200", async () => {
    const github = startFakeGithub();
    const service = await githubTack(github);
    expect(await deliverGithub(service.http, { event: "ping", payload: ping })).toMatchObject({
      status: 200,
      body: "pong\n",
    });
    expect(
      await deliverGithub(service.http, { event: "push", payload: { ref: "refs/heads/main" } }),
    ).toMatchObject({ status: 200, body: "ignored: tack does not use push events\n" });
  });

  describe("refusals write nothing", () => {
    async function setup() {
      const github = startFakeGithub();
      const service = await githubTack(github);
      const { id, run } = await spawned(github, service);
      const payload = completed(run, "success");
      const before = {
        statuses: statusesOf(service.tack.broker.store, id),
        state: runState(service, run.id),
        deliveries: deliveriesCount(service),
      };
      const unchanged = () => {
        expect(statusesOf(service.tack.broker.store, id)).toEqual(before.statuses);
        expect(runState(service, run.id)).toBe(before.state);
        expect(deliveriesCount(service)).toBe(before.deliveries);
      };
      /** The same delivery id, correctly signed afterwards, is applied: nothing was recorded. */
      const stillApplies = async (delivery: string) => {
        const result = await deliverGithub(service.http, {
          event: "workflow_run",
          payload,
          delivery,
        });
        expect(result).toMatchObject({ status: 200, body: "ok\n" });
        expect(statusesOf(service.tack.broker.store, id).map((s) => s.status)).toEqual([
          "pending",
          "success",
        ]);
      };
      return { service, payload, unchanged, stillApplies };
    }

    test("a bad signature is 401", async () => {
      const { service, payload, unchanged, stillApplies } = await setup();
      const wrongSecret = await deliverGithub(service.http, {
        event: "workflow_run",
        payload,
        secret: "not the secret",
      });
      expect(wrongSecret).toMatchObject({ status: 401, body: "invalid signature\n" });
      const body = JSON.stringify(payload);
      const tampered = await deliverGithub(service.http, {
        event: "workflow_run",
        payload: body.replace('"success"', '"failure"'),
        signature: signGithub(WEBHOOK_SECRET, body),
        delivery: wrongSecret.delivery,
      });
      expect(tampered.status).toBe(401);
      const missing = await deliverGithub(service.http, {
        event: "workflow_run",
        payload,
        signature: null,
      });
      expect(missing.status).toBe(401);
      const sha1 = await deliverGithub(service.http, {
        event: "workflow_run",
        payload,
        signature: "sha1=0123456789abcdef0123456789abcdef01234567",
      });
      expect(sha1.status).toBe(401);
      unchanged();
      expect(
        service.logs.some((l) => l.msg?.toString().startsWith("github webhook: verify failed")),
      ).toBe(true);
      expect(JSON.stringify(service.logs)).not.toContain(WEBHOOK_SECRET);
      await stillApplies(wrongSecret.delivery);
    });

    test("a body over 1 MiB is 413", async () => {
      const { service, payload, unchanged, stillApplies } = await setup();
      const padded = JSON.stringify({ ...payload, padding: "x".repeat(1024 * 1024) });
      const result = await deliverGithub(service.http, { event: "workflow_run", payload: padded });
      expect(result.status).toBe(413);
      unchanged();
      await stillApplies(result.delivery);
    });

    test("malformed JSON is 400", async () => {
      const { service, unchanged, stillApplies } = await setup();
      const result = await deliverGithub(service.http, {
        event: "workflow_run",
        payload: '{"action":"completed","workflow_run":',
      });
      expect(result).toMatchObject({ status: 400, body: "malformed JSON\n" });
      unchanged();
      await stillApplies(result.delivery);
    });

    test("a payload that is not the event's shape is 400", async () => {
      const { service, payload, unchanged, stillApplies } = await setup();
      const result = await deliverGithub(service.http, {
        event: "workflow_run",
        payload: { ...payload, workflow_run: { ...payload.workflow_run, id: "9000000001" } },
      });
      expect(result.status).toBe(400);
      expect(result.body).toStartWith("not a workflow_run payload (/workflow_run/id: ");
      unchanged();
      await stillApplies(result.delivery);
    });
  });
});
