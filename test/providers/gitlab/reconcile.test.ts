/**
 * Reconciliation: GitLab gives up on a delivery after a few tries and disables a failing
 * webhook, and tack may be down when one is sent, so a lost webhook must be made good by
 * polling, periodically and at start, within the rate-limit budget.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { tempDir } from "../../helpers/tack.ts";
import {
  dispatchGitlab,
  FAST,
  gitlabProvider,
  gitlabTack,
  newWorkflowId,
  pipelineRow,
  serviceTarget,
  startFakeGitlab,
  statusesOf,
  until,
} from "./harness.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

describe("gitlab reconciliation", () => {
  test("lost webhooks are made good by polling; a timed-out job makes a timeout", async () => {
    const gitlab = startFakeGitlab();
    const tack = gitlabProvider(gitlab);
    const id = newWorkflowId();
    await dispatchGitlab(tack, id);
    const pipeline = gitlab.lastPipeline();

    // The pipeline runs and fails on GitLab; no webhook ever arrives.
    gitlab.setPipeline(pipeline.id, { status: "running" });
    await until(() => tack.workflows.get(id)?.status === "running", "running by polling");
    gitlab.addJob(pipeline.id, {
      name: "e2e",
      status: "failed",
      failure_reason: "job_execution_timeout",
      started_at: new Date().toISOString(),
    });
    gitlab.setPipeline(pipeline.id, { status: "failed" });
    await until(() => tack.workflows.get(id)?.status === "timeout", "timeout by polling");

    expect(statusesOf(tack.store, id)).toEqual([
      { status: "pending" },
      { status: "running" },
      {
        status: "timeout",
        error: `GitLab job "e2e" timed out (job_execution_timeout): https://gitlab.example.com/acme/tangled-runner/-/pipelines/${pipeline.id}`,
      },
    ]);
    // The pipeline is closed, so the reconciler's work list no longer has it.
    await until(() => pipelineRow(tack.database, id.pipelineRkey)?.state === "failed", "closed");
    // Two more passes (seen through another pipeline's polls) leave the closed one alone.
    const polls = gitlab.callsTo("GET", new RegExp(`/pipelines/${pipeline.id}$`)).length;
    await dispatchGitlab(tack, newWorkflowId());
    const other = gitlab.lastPipeline();
    await until(
      () => gitlab.callsTo("GET", new RegExp(`/pipelines/${other.id}$`)).length >= 3,
      "two more passes",
    );
    expect(gitlab.callsTo("GET", new RegExp(`/pipelines/${pipeline.id}$`))).toHaveLength(polls);
  });

  test("pipelines heard from recently are left alone", async () => {
    const gitlab = startFakeGitlab();
    // An hour on the fast clock is 90 s of real time: even a loaded machine cannot age the
    // fresh pipeline into staleness during the test.
    const tack = gitlabProvider(gitlab, { ...FAST, staleAfterMs: 3_600_000 });
    const fresh = newWorkflowId();
    await dispatchGitlab(tack, fresh);
    const freshPipeline = gitlab.lastPipeline();
    gitlab.setPipeline(freshPipeline.id, { status: "success" });
    const stale = newWorkflowId();
    await dispatchGitlab(tack, stale);
    const stalePipeline = gitlab.lastPipeline();
    // The second pipeline has not been heard from for two hours (kept so while waiting).
    const goStale = () =>
      tack.database.sqlite
        .query("update gitlab_pipelines set last_seen_at = ? where pipeline_rkey = ?")
        .run(tack.clock.now() - 7_200_000, stale.pipelineRkey);
    // Its polls fail, so it stays stale and is polled on every pass.
    gitlab.failNext("GET", new RegExp(`/pipelines/${stalePipeline.id}$`), 500, 1_000);
    await until(() => {
      goStale();
      return gitlab.callsTo("GET", new RegExp(`/pipelines/${stalePipeline.id}$`)).length >= 2;
    }, "stale pipeline polled twice");
    expect(gitlab.callsTo("GET", new RegExp(`/pipelines/${freshPipeline.id}$`))).toHaveLength(0);
    expect(tack.workflows.get(fresh)?.status).toBe("pending");
  });

  test("at start, every unfinished pipeline is polled, whatever its last webhook", async () => {
    const gitlab = startFakeGitlab();
    const dir = tempDir();
    const id = newWorkflowId();
    {
      const service = await gitlabTack(gitlab, { dir });
      await dispatchGitlab(serviceTarget(service), id);
      await service[Symbol.asyncDispose]();
    }
    // While tack was down the pipeline finished; the webhook went nowhere.
    gitlab.setPipeline(gitlab.lastPipeline().id, { status: "success" });

    const service = await gitlabTack(gitlab, { dir });
    await until(
      () => service.tack.workflows.get(id)?.status === "success",
      "success after restart",
    );
    expect(statusesOf(service.tack.broker.store, id).map((s) => s.status)).toEqual([
      "pending",
      "success",
    ]);
    expect(
      service.logs.some((l) => l.msg === "gitlab: reconciling pipelines left unfinished"),
    ).toBe(true);
  });

  test("a pipeline deleted on GitLab fails its workflow, saying so", async () => {
    const gitlab = startFakeGitlab();
    const tack = gitlabProvider(gitlab);
    const id = newWorkflowId();
    await dispatchGitlab(tack, id);
    const pipeline = gitlab.lastPipeline();
    gitlab.pipelines.delete(pipeline.id);
    await until(() => tack.workflows.get(id)?.status === "failed", "failed");
    expect(tack.workflows.get(id)?.error).toBe(
      `GitLab pipeline ${pipeline.id} no longer exists in acme/tangled-runner`,
    );
    await until(() => pipelineRow(tack.database, id.pipelineRkey)?.state === "tack:lost", "closed");
  });

  test("a create left unclear is looked for in the background, and closed when it never shows", async () => {
    const gitlab = startFakeGitlab();
    const tack = gitlabProvider(gitlab, { ...FAST, maxCreates: 1, discoveryTimeoutMs: 20_000 });
    const late = newWorkflowId();
    // GitLab made the pipeline but answered 502, and lists it only after a while.
    gitlab.listLag = 1_000;
    gitlab.failNext("POST", /\/pipeline$/, 502, 1, { thenPerform: true });
    expect(await dispatchGitlab(tack, late)).toBe("spawn-failed");
    gitlab.lastPipeline().hiddenFromLists = 0;
    await until(
      () =>
        pipelineRow(tack.database, late.pipelineRkey)?.pipeline_id ===
        BigInt(gitlab.lastPipeline().id),
      "linked by the reconciler",
    );

    const never = newWorkflowId();
    gitlab.failNext("POST", /\/pipeline$/, 502, 1);
    expect(await dispatchGitlab(tack, never)).toBe("spawn-failed");
    await until(
      () => pipelineRow(tack.database, never.pipelineRkey)?.state === "tack:lost",
      "closed",
    );
    expect(gitlab.pipelines.size).toBe(1);
  });

  test("polling pauses while the budget is down to the reserve, then resumes", async () => {
    const gitlab = startFakeGitlab();
    gitlab.rateRemaining = 20;
    const tack = gitlabProvider(gitlab, { ...FAST, reserveRequests: 50 });
    const id = newWorkflowId();
    await dispatchGitlab(tack, id);
    const pipeline = gitlab.lastPipeline();
    gitlab.setPipeline(pipeline.id, { status: "success" });
    const paused = () =>
      tack.logs.filter((l) => l.msg === "gitlab reconcile: paused to keep the rate-limit reserve")
        .length;
    await until(() => paused() >= 3, "three paused passes");
    expect(gitlab.callsTo("GET", new RegExp(`/pipelines/${pipeline.id}$`))).toHaveLength(0);
    // Creates still go through; polling resumes once GitLab reports the budget back.
    gitlab.rateRemaining = 1900;
    await dispatchGitlab(tack, newWorkflowId());
    await until(
      () => tack.workflows.get(id)?.status === "success",
      "success once the budget is back",
    );
  });
});
