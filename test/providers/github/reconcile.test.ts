/**
 * Reconciliation: GitHub never redelivers, so a lost webhook must be made good by polling,
 * periodically and at start, within the rate-limit budget.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { FakeGithub } from "../../helpers/fake-github.ts";
import { tempDir } from "../../helpers/tack.ts";
import {
  dispatchGithub,
  FAST,
  githubProvider,
  githubTack,
  newWorkflowId,
  serviceTarget,
  startFakeGithub,
  statusesOf,
  until,
} from "./harness.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

function runState(database: { sqlite: import("bun:sqlite").Database }, rkey: string) {
  const row = database.sqlite
    .query("select state from github_runs where pipeline_rkey = ?")
    .get(rkey) as { state: string | null } | null;
  return row?.state ?? null;
}

function runOf(
  github: FakeGithub,
  database: { sqlite: import("bun:sqlite").Database },
  rkey: string,
) {
  const row = database.sqlite
    .query("select correlation_id from github_runs where pipeline_rkey = ?")
    .get(rkey) as { correlation_id: string } | null;
  const run = github.runFor(row?.correlation_id ?? "");
  if (!run) throw new Error("no run");
  return run;
}

describe("github reconciliation", () => {
  test("a lost webhook is recovered by polling the run", async () => {
    const github = startFakeGithub();
    const tack = githubProvider(github);
    const id = newWorkflowId();
    await dispatchGithub(tack, id);
    const run = runOf(github, tack.database, id.pipelineRkey);

    // The run starts and finishes on GitHub; neither webhook ever arrives.
    github.setRun(run.id, { status: "in_progress" });
    await until(() => tack.workflows.get(id)?.status === "running", "running by polling");
    github.setRun(run.id, { status: "completed", conclusion: "timed_out" });
    await until(() => tack.workflows.get(id)?.status === "timeout", "timeout by polling");

    expect(statusesOf(tack.store, id).map((s) => s.status)).toEqual([
      "pending",
      "running",
      "timeout",
    ]);
    // The run is closed, so the reconciler's work list no longer has it.
    await until(
      () => runState(tack.database, id.pipelineRkey) === "completed:timed_out",
      "run closed",
    );
  });

  test("runs heard from recently are left alone", async () => {
    const github = startFakeGithub();
    const tack = githubProvider(github, {
      ...FAST,
      staleAfterMs: 600_000,
      http: {
        attempts: 1,
        backoffMs: 1,
        maxBackoffMs: 1,
        maxRateLimitWaitMs: 10,
        timeoutMs: 2_000,
      },
    });
    const fresh = newWorkflowId();
    await dispatchGithub(tack, fresh);
    const freshRun = runOf(github, tack.database, fresh.pipelineRkey);
    github.setRun(freshRun.id, { status: "completed", conclusion: "success" });
    const stale = newWorkflowId();
    await dispatchGithub(tack, stale);
    const staleRun = runOf(github, tack.database, stale.pipelineRkey);
    // The second run has not been heard from for twenty minutes. (Kept so while the test waits:
    // a reconciler pass that was already listing runs when it was dispatched may still hear
    // from it once.)
    const goStale = () =>
      tack.database.sqlite
        .query("update github_runs set last_seen_at = ? where pipeline_rkey = ?")
        .run(tack.clock.now() - 1_200_000, stale.pipelineRkey);
    // Its polls fail, so it stays stale and is polled on every pass.
    github.failNext("GET", new RegExp(`/actions/runs/${staleRun.id}$`), 500, 1_000);

    // Each pass walks every open run: once the stale one was polled twice, the fresh one had
    // two chances to be polled too.
    await until(() => {
      goStale();
      return github.callsTo("GET", new RegExp(`/actions/runs/${staleRun.id}$`)).length >= 2;
    }, "stale run polled twice");
    expect(github.callsTo("GET", new RegExp(`/actions/runs/${freshRun.id}$`))).toHaveLength(0);
    expect(tack.workflows.get(fresh)?.status).toBe("pending");
  });

  test("at start, every unfinished run is polled, whatever its last webhook", async () => {
    const github = startFakeGithub();
    const dir = tempDir();
    const id = newWorkflowId();
    {
      const service = await githubTack(github, dir);
      await dispatchGithub(serviceTarget(service), id);
      await service[Symbol.asyncDispose]();
    }
    // While tack was down the run finished; the webhook went nowhere.
    const row = github.lastRun();
    github.setRun(row.id, { status: "completed", conclusion: "failure" });

    const service = await githubTack(github, dir);
    await until(() => service.tack.workflows.get(id)?.status === "failed", "failed after restart");
    expect(statusesOf(service.tack.broker.store, id).map((s) => s.status)).toEqual([
      "pending",
      "failed",
    ]);
    expect(service.logs.some((l) => l.msg === "github: reconciling runs left unfinished")).toBe(
      true,
    );
  });

  test("a dispatched run whose title never shows the correlation id fails the workflow in time", async () => {
    const github = startFakeGithub();
    github.dispatchMode = "no-content";
    github.runName = () => "tangled (run-name forgot the correlation id)";
    const tack = githubProvider(github, { ...FAST, discoveryTimeoutMs: 200 });
    const id = newWorkflowId();
    expect(await dispatchGithub(tack, id)).toBe("spawned");
    await until(() => tack.workflows.get(id)?.status === "failed", "failed");
    const error = tack.workflows.get(id)?.error ?? "";
    expect(error).toStartWith("GitHub shows no run titled with correlation id tack-");
    expect(error).toContain("run-name");
    // Closed after the transition committed, so it is not searched for again.
    await until(() => runState(tack.database, id.pipelineRkey) === "tack:lost", "run closed");
  });

  test("a run found late by the reconciler is linked and followed", async () => {
    const github = startFakeGithub();
    github.dispatchMode = "no-content";
    github.listLag = 8;
    const tack = githubProvider(github, { ...FAST, discoveryDelaysMs: [5] });
    const id = newWorkflowId();
    await dispatchGithub(tack, id);
    const run = github.lastRun();
    github.setRun(run.id, { status: "completed", conclusion: "success" });
    await until(() => tack.workflows.get(id)?.status === "success", "success");
  });

  test("polling pauses while GitHub's rate limit says to wait, then resumes", async () => {
    const github = startFakeGithub();
    const tack = githubProvider(github, {
      ...FAST,
      http: {
        attempts: 2,
        backoffMs: 10,
        maxBackoffMs: 10,
        maxRateLimitWaitMs: 50,
        timeoutMs: 2_000,
      },
    });
    const id = newWorkflowId();
    await dispatchGithub(tack, id);
    const run = runOf(github, tack.database, id.pipelineRkey);
    github.setRun(run.id, { status: "completed", conclusion: "success" });
    const reset = Math.floor(Date.now() / 1000) + 2;
    github.failNext("GET", new RegExp(`/actions/runs/${run.id}$`), 403, 1, {
      "x-ratelimit-remaining": "0",
      "x-ratelimit-reset": String(reset),
    });
    await until(
      () => tack.workflows.get(id)?.status === "success",
      "success after the reset",
      10_000,
    );
    const polls = github.callsTo("GET", new RegExp(`/actions/runs/${run.id}$`));
    // The reset (2 s on the test's 40-times clock: 50 ms) was beyond what the client sleeps
    // through: nothing was sent until then, although passes ran every 6 ms meanwhile.
    expect(polls).toHaveLength(2);
    expect((polls[1]?.at ?? 0) - (polls[0]?.at ?? 0)).toBeGreaterThanOrEqual(45);
    expect(tack.logs.some((l) => l.msg === "github reconcile: poll failed")).toBe(true);
  });

  test("polling pauses while the hourly budget is down to the reserve", async () => {
    const github = startFakeGithub();
    github.rateRemaining = 150;
    const tack = githubProvider(github, { ...FAST, reserveRequests: 200 });
    const id = newWorkflowId();
    await dispatchGithub(tack, id);
    const run = runOf(github, tack.database, id.pipelineRkey);
    github.setRun(run.id, { status: "completed", conclusion: "success" });
    const paused = () =>
      tack.logs.filter((l) => l.msg === "github reconcile: paused to keep the rate-limit reserve")
        .length;
    await until(() => paused() >= 3, "three paused passes");
    expect(github.callsTo("GET", new RegExp(`/actions/runs/${run.id}$`))).toHaveLength(0);
    // Dispatches still go through; polling resumes once GitHub reports the budget back.
    github.rateRemaining = 4000;
    await dispatchGithub(tack, newWorkflowId());
    await until(
      () => tack.workflows.get(id)?.status === "success",
      "success once the budget is back",
    );
  });
});
