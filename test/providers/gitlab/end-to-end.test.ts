/**
 * End to end over loopback, through the real service and the GitLab stand-in:
 * - a repo registered through Jetstream, a push from the knot routed to `tack: { gitlab: … }`,
 *   the pipeline driven by Pipeline Hook deliveries, the statuses read from /events as older
 *   appviews read them, and the job's trace on /logs;
 * - today's appview: a manual run started with sh.tangled.ci.triggerPipeline (its inputs reach
 *   the pipeline), its log read with subscribePipelineLogs while the job runs, then stopped with
 *   sh.tangled.ci.cancelPipeline, which cancels the GitLab pipeline.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { decodeMultiple } from "cbor-x";
import type { LogLine } from "../../../src/providers/provider.ts";
import { actionsNetwork, REPO_DID, xrpcPost } from "../../helpers/actions-network.ts";
import { cleanupAfterEach } from "../../helpers/cleanup.ts";
import { fastClock } from "../../helpers/clock.ts";
import { deliverGitlab, RUNNER_PROJECT } from "../../helpers/fake-gitlab.ts";
import { FakeJetstream } from "../../helpers/fake-jetstream.ts";
import { FakeKnot } from "../../helpers/fake-knot.ts";
import { startTestTack, type TestTack } from "../../helpers/tack.ts";
import { followedRepo, pushTrigger } from "../../helpers/tangled-network.ts";
import { until } from "../../helpers/wait.ts";
import { freshSha, OWNER } from "../../helpers/wire.ts";
import { connect } from "../../helpers/ws.ts";
import { gitlabConfig, pipelineRow, startFakeGitlab } from "./harness.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);
const defer = cleanupAfterEach();

const WORKFLOW = `when:\n  - event: [push]\n    branch: main\nengine: tack\ntack:\n  gitlab:\n    project: ${RUNNER_PROJECT}\n`;

describe("gitlab end to end", () => {
  test("knot push → GitLab pipeline → Pipeline Hooks → pending, running, success on /events; the trace on /logs", async () => {
    const gitlab = startFakeGitlab();
    const jetstream = FakeJetstream.start();
    const knot = FakeKnot.start();
    defer(() => jetstream.stop());
    defer(() => knot.stop());
    const service = await startTestTack({
      config: { jetstreamUrl: jetstream.url, providers: { gitlab: gitlabConfig(gitlab) } },
      overrides: {
        clock: fastClock(),
        streams: { minBackoffMs: 20, maxBackoffMs: 200, idleTimeoutMs: 10_000 },
      },
    });
    defer(() => service[Symbol.asyncDispose]());
    await followedRepo(jetstream, knot);

    const events = connect(`${service.ws}/events`);
    await events.opened;
    const sha = "3f4c1e2d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d";
    const rkey = pushTrigger(knot, [{ name: "gl.yml", raw: WORKFLOW }], { sha });
    await events.waitFor(1);
    await until(() => gitlab.pipelines.size === 1, "pipeline created");
    const pipeline = gitlab.lastPipeline();
    expect(pipeline.inputs.commit).toBe(sha);
    expect(JSON.parse(String(pipeline.inputs.tangled))).toMatchObject({
      knot: knot.host,
      repo_did: OWNER,
      repo_name: "app",
      pipeline_rkey: rkey,
      workflow: "gl.yml",
      event: "push",
      ref: "refs/heads/main",
    });

    const job = gitlab.addJob(pipeline.id, {
      name: "test",
      status: "running",
      started_at: new Date().toISOString(),
      trace: "\u001b[32;1m$ make test\u001b[0;m\nok\n",
    });
    gitlab.setPipeline(pipeline.id, { status: "running" });
    expect(
      (
        await deliverGitlab(service.http, {
          event: "Pipeline Hook",
          payload: gitlab.pipelineHook(pipeline),
        })
      ).status,
    ).toBe(200);
    gitlab.setJob(job.id, { status: "success", finished_at: new Date().toISOString() });
    gitlab.setPipeline(pipeline.id, { status: "success" });
    expect(
      (
        await deliverGitlab(service.http, {
          event: "Pipeline Hook",
          payload: gitlab.pipelineHook(pipeline),
        })
      ).status,
    ).toBe(200);

    const frames = await events.waitFor(3);
    const statuses = frames.map(
      (frame) =>
        (JSON.parse(frame) as { event: { status: string; workflow: string; pipeline: string } })
          .event,
    );
    expect(statuses.map((s) => [s.workflow, s.status])).toEqual([
      ["gl.yml", "pending"],
      ["gl.yml", "running"],
      ["gl.yml", "success"],
    ]);
    for (const status of statuses) {
      expect(status.pipeline).toBe(`at://did:web:${knot.host}/sh.tangled.pipeline/${rkey}`);
    }
    events.close();

    const log = connect(`${service.ws}/logs/${knot.host}/${rkey}/gl.yml`);
    expect(await log.closed).toEqual({ code: 1000, reason: "log stream complete" });
    const lines = log.frames.map((frame) => JSON.parse(frame) as LogLine);
    expect(lines.slice(3).map((l) => [l.kind, l.step_status ?? l.content])).toEqual([
      ["control", "start"],
      ["data", "$ make test"],
      ["data", "ok"],
      ["control", "end"],
    ]);
    expect(gitlab.problems).toEqual([]);
  });

  test("triggerPipeline with inputs → the job's live log on subscribePipelineLogs → cancelPipeline stops the GitLab pipeline", async () => {
    const gitlab = startFakeGitlab();
    gitlab.runner.inputs.set("target", { type: "string", required: false });
    const { knot, service, owner } = await actionsNetwork(
      defer,
      "ES256",
      { clock: fastClock() },
      { providers: { gitlab: gitlabConfig(gitlab) } },
    );
    const sha = freshSha();
    knot.commit(REPO_DID, sha, [
      {
        name: "deploy.yml",
        content: `engine: tack\ntack:\n  gitlab:\n    project: ${RUNNER_PROJECT}\n    inputs: { target: staging }\n`,
      },
    ]);
    const TRIGGER = "sh.tangled.ci.triggerPipeline";
    const answer = await xrpcPost(
      service,
      TRIGGER,
      {
        repo: REPO_DID,
        trigger: {
          $type: "sh.tangled.ci.trigger#manual",
          sha,
          inputs: [{ key: "target", value: "production" }],
        },
      },
      owner.auth(TRIGGER),
    );
    expect(answer.status).toBe(200);
    const rkey = answer.body.pipeline?.split("/").at(-1) ?? "";
    await until(() => gitlab.pipelines.size === 1, "pipeline created");
    const pipeline = gitlab.lastPipeline();
    // The manual run's input replaced the workflow's own value for the declared input.
    expect(pipeline.inputs.target).toBe("production");
    expect(JSON.parse(String(pipeline.inputs.tangled))).toMatchObject({
      event: "manual",
      commit: sha,
      manual_inputs: { target: "production" },
    });

    const job = gitlab.addJob(pipeline.id, {
      name: "deploy",
      status: "running",
      started_at: new Date().toISOString(),
      trace: "deploying to production\n",
    });
    gitlab.setPipeline(pipeline.id, { status: "running" });
    await deliverGitlab(service.http, {
      event: "Pipeline Hook",
      payload: gitlab.pipelineHook(pipeline),
    });
    const id = { knot: knot.host, pipelineRkey: rkey, name: "deploy.yml" };
    await until(() => service.tack.workflows.get(id)?.status === "running", "running");

    const stream = subscribe(service, `pipeline=${rkey}`);
    await until(
      () => stream.contents().includes("deploying to production\n"),
      "the live line on subscribePipelineLogs",
    );

    const CANCEL = "sh.tangled.ci.cancelPipeline";
    const cancelled = await xrpcPost(
      service,
      CANCEL,
      { repo: REPO_DID, pipeline: rkey },
      owner.auth(CANCEL),
    );
    expect(cancelled.status).toBe(200);
    expect(gitlab.callsTo("POST", /\/cancel$/).map((call) => call.path)).toEqual([
      `/projects/acme%2Ftangled-runner/pipelines/${pipeline.id}/cancel`,
    ]);
    expect(service.tack.workflows.get(id)).toMatchObject({
      status: "cancelled",
      error: "User canceled the workflow",
    });

    // GitLab stops the job and reports the pipeline canceled; the stream ends.
    gitlab.setJob(job.id, {
      status: "canceled",
      finished_at: new Date().toISOString(),
      trace: "deploying to production\nERROR: Job failed: canceled\n",
    });
    gitlab.setPipeline(pipeline.id, { status: "canceled" });
    await deliverGitlab(service.http, {
      event: "Pipeline Hook",
      payload: gitlab.pipelineHook(pipeline),
    });
    expect((await stream.closed).code).toBe(1000);
    expect(stream.contents()).toContain("ERROR: Job failed: canceled\n");
    expect(pipelineRow(service.tack.database, rkey)?.state).toBe("canceled");
  });
});

/** sh.tangled.ci.subscribePipelineLogs: the frames' bodies, decoded with cbor-x. */
function subscribe(service: TestTack, query: string) {
  const socket = new WebSocket(`${service.ws}/xrpc/sh.tangled.ci.subscribePipelineLogs?${query}`);
  socket.binaryType = "arraybuffer";
  const bodies: Record<string, unknown>[] = [];
  socket.addEventListener("message", (event) => {
    const values = decodeMultiple(new Uint8Array(event.data as ArrayBuffer)) as unknown[];
    bodies.push(values[1] as Record<string, unknown>);
  });
  const closed = new Promise<{ code: number }>((resolve) =>
    socket.addEventListener("close", (event) => resolve({ code: event.code })),
  );
  return {
    closed,
    contents: () => bodies.map((body) => String(body.content ?? "")).join(""),
  };
}
