/**
 * POST /webhooks/gitlab through the real service: the secret token, the 401/400/200 contract,
 * de-duplication on GitLab's Idempotency-Key (and its fallbacks), out-of-order deliveries,
 * job events, and which pipelines may move a workflow.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  deliverGitlab,
  type FakeGitlab,
  type FakePipeline,
  GITLAB_WEBHOOK_SECRET,
} from "../../helpers/fake-gitlab.ts";
import type { TestTack } from "../../helpers/tack.ts";
import {
  dispatchGitlab,
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

async function spawned(gitlab: FakeGitlab, service: TestTack) {
  const id = newWorkflowId();
  await dispatchGitlab(serviceTarget(service), id);
  return { id, pipeline: gitlab.lastPipeline() };
}

function deliverPipeline(
  service: TestTack,
  gitlab: FakeGitlab,
  pipeline: FakePipeline,
  extra: { token?: string | null; idempotencyKey?: string | null; eventUuid?: string | null } = {},
) {
  return deliverGitlab(service.http, {
    event: "Pipeline Hook",
    payload: gitlab.pipelineHook(pipeline),
    ...extra,
  });
}

function deliveries(service: TestTack): number {
  const row = service.tack.database.sqlite
    .query("select count(*) as n from webhook_deliveries where provider = 'gitlab'")
    .get() as { n: bigint };
  return Number(row.n);
}

describe("gitlab webhook", () => {
  test("a pipeline moves pending → running → success, each delivery answered 200 ok", async () => {
    const gitlab = startFakeGitlab();
    const service = await gitlabTack(gitlab);
    const { id, pipeline } = await spawned(gitlab, service);
    for (const status of ["pending", "running", "success"]) {
      gitlab.setPipeline(pipeline.id, { status });
      expect(await deliverPipeline(service, gitlab, pipeline)).toEqual({
        status: 200,
        body: "ok\n",
      });
    }
    expect(statusesOf(service.tack.broker.store, id)).toEqual([
      { status: "pending" },
      { status: "running" },
      { status: "success" },
    ]);
    expect(pipelineRow(service.tack.database, id.pipelineRkey)?.state).toBe("success");
  });

  test("a missing or wrong X-Gitlab-Token is 401 and changes nothing; the secret is never logged", async () => {
    const gitlab = startFakeGitlab();
    const service = await gitlabTack(gitlab);
    const { id, pipeline } = await spawned(gitlab, service);
    gitlab.setPipeline(pipeline.id, { status: "running" });
    for (const token of [
      null,
      "",
      "gitlab-hook-secret-0123456789abcdeX",
      GITLAB_WEBHOOK_SECRET.slice(0, -1),
    ]) {
      expect(await deliverPipeline(service, gitlab, pipeline, { token })).toEqual({
        status: 401,
        body: "unauthorized\n",
      });
    }
    expect(statusesOf(service.tack.broker.store, id)).toEqual([{ status: "pending" }]);
    expect(deliveries(service)).toBe(0);
    expect(JSON.stringify(service.logs)).not.toContain(GITLAB_WEBHOOK_SECRET);
    expect(
      service.logs.filter((line) => String(line.msg).startsWith("gitlab webhook: verify failed")),
    ).toHaveLength(4);
  });

  test("a body that is not JSON, or not its event's shape, is 400; other events are 200 ignored", async () => {
    const gitlab = startFakeGitlab();
    const service = await gitlabTack(gitlab);
    const { id, pipeline } = await spawned(gitlab, service);
    expect(
      await deliverGitlab(service.http, { event: "Pipeline Hook", payload: "{not json" }),
    ).toEqual({ status: 400, body: "malformed JSON\n" });
    const broken = gitlab.pipelineHook(pipeline) as { object_attributes: Record<string, unknown> };
    broken.object_attributes.id = "31";
    const answer = await deliverGitlab(service.http, { event: "Pipeline Hook", payload: broken });
    expect(answer.status).toBe(400);
    expect(answer.body).toStartWith("not a pipeline event (/object_attributes/id:");
    const job = await deliverGitlab(service.http, {
      event: "Job Hook",
      payload: { object_kind: "build", build_id: 1 },
    });
    expect(job.status).toBe(400);
    for (const [event, kind] of [
      ["Push Hook", "push"],
      ["Merge Request Hook", "merge_request"],
    ]) {
      expect(
        await deliverGitlab(service.http, {
          event: event ?? "",
          payload: { object_kind: kind, project: { id: 1 } },
        }),
      ).toEqual({ status: 200, body: `ignored: tack does not use ${kind} events\n` });
    }
    expect(statusesOf(service.tack.broker.store, id)).toEqual([{ status: "pending" }]);
    expect(deliveries(service)).toBe(0);
  });

  test("a redelivery with the same Idempotency-Key is a duplicate, whatever its body", async () => {
    const gitlab = startFakeGitlab();
    const service = await gitlabTack(gitlab);
    const { id, pipeline } = await spawned(gitlab, service);
    gitlab.setPipeline(pipeline.id, { status: "running" });
    const key = "4b1d6a0e-52c8-4f21-9a3e-7d5c2f8b1e90";
    expect((await deliverPipeline(service, gitlab, pipeline, { idempotencyKey: key })).body).toBe(
      "ok\n",
    );
    gitlab.setPipeline(pipeline.id, { status: "failed" });
    expect(
      await deliverPipeline(service, gitlab, pipeline, {
        idempotencyKey: key,
        eventUuid: "another-event-uuid",
      }),
    ).toEqual({ status: 200, body: "duplicate delivery\n" });
    expect(statusesOf(service.tack.broker.store, id)).toEqual([
      { status: "pending" },
      { status: "running" },
    ]);
  });

  test("without an Idempotency-Key the event UUID identifies a delivery, and without both its body", async () => {
    const gitlab = startFakeGitlab();
    const service = await gitlabTack(gitlab);
    const { id, pipeline } = await spawned(gitlab, service);
    gitlab.setPipeline(pipeline.id, { status: "running" });
    const uuid = { idempotencyKey: null, eventUuid: "9c2e4f6a-1b3d-4e5f-8a7b-6c5d4e3f2a1b" };
    expect((await deliverPipeline(service, gitlab, pipeline, uuid)).body).toBe("ok\n");
    expect((await deliverPipeline(service, gitlab, pipeline, uuid)).body).toBe(
      "duplicate delivery\n",
    );
    // An old GitLab sends neither: the same body is the same delivery, a new status a new one.
    const bare = { idempotencyKey: null, eventUuid: null };
    gitlab.setPipeline(pipeline.id, { status: "success" });
    const body = JSON.stringify(gitlab.pipelineHook(pipeline));
    const send = () =>
      deliverGitlab(service.http, { event: "Pipeline Hook", payload: body, ...bare });
    expect((await send()).body).toBe("ok\n");
    expect((await send()).body).toBe("duplicate delivery\n");
    expect(statusesOf(service.tack.broker.store, id).map((s) => s.status)).toEqual([
      "pending",
      "running",
      "success",
    ]);
    expect(deliveries(service)).toBe(2);
  });

  test("out of order: a late running after success changes nothing, and is still 200", async () => {
    const gitlab = startFakeGitlab();
    const service = await gitlabTack(gitlab);
    const { id, pipeline } = await spawned(gitlab, service);
    gitlab.setPipeline(pipeline.id, { status: "success" });
    const finished = gitlab.pipelineHook(pipeline);
    gitlab.setPipeline(pipeline.id, { status: "running" });
    const late = gitlab.pipelineHook(pipeline);
    gitlab.setPipeline(pipeline.id, { status: "success" });
    expect(
      (await deliverGitlab(service.http, { event: "Pipeline Hook", payload: finished })).status,
    ).toBe(200);
    expect(
      (await deliverGitlab(service.http, { event: "Pipeline Hook", payload: late })).status,
    ).toBe(200);
    expect(statusesOf(service.tack.broker.store, id)).toEqual([
      { status: "pending" },
      { status: "success" },
    ]);
    expect(pipelineRow(service.tack.database, id.pipelineRkey)?.state).toBe("success");
  });

  test("a running job moves the workflow to running; jobs of unknown pipelines are ignored", async () => {
    const gitlab = startFakeGitlab();
    const service = await gitlabTack(gitlab);
    const { id, pipeline } = await spawned(gitlab, service);
    const job = gitlab.addJob(pipeline.id, { name: "test", status: "pending" });
    expect(
      (await deliverGitlab(service.http, { event: "Job Hook", payload: gitlab.jobHook(job) })).body,
    ).toBe("ok\n");
    expect(statusesOf(service.tack.broker.store, id)).toEqual([{ status: "pending" }]);
    gitlab.setJob(job.id, { status: "running", started_at: new Date().toISOString() });
    expect(
      (await deliverGitlab(service.http, { event: "Job Hook", payload: gitlab.jobHook(job) })).body,
    ).toBe("ok\n");
    expect(statusesOf(service.tack.broker.store, id)).toEqual([
      { status: "pending" },
      { status: "running" },
    ]);
    const stranger = { ...gitlab.jobHook(job), pipeline_id: 999_999 };
    expect(await deliverGitlab(service.http, { event: "Job Hook", payload: stranger })).toEqual({
      status: 200,
      body: "ignored: not a pipeline tack created\n",
    });
  });

  test("a pipeline tack did not create is acknowledged and ignored", async () => {
    const gitlab = startFakeGitlab();
    const service = await gitlabTack(gitlab);
    await spawned(gitlab, service);
    const other = gitlab.setPipeline(gitlab.lastPipeline().id, {});
    const payload = gitlab.pipelineHook(other) as { object_attributes: Record<string, unknown> };
    payload.object_attributes.id = 1;
    payload.object_attributes.name = "Nightly build";
    expect(await deliverGitlab(service.http, { event: "Pipeline Hook", payload })).toEqual({
      status: 200,
      body: "ignored: not a pipeline tack created\n",
    });
    expect(deliveries(service)).toBe(0);
  });

  test("a delivery that beats the create's answer is matched by the name's correlation id", async () => {
    const gitlab = startFakeGitlab();
    const service = await gitlabTack(gitlab);
    const id = newWorkflowId();
    const held = gitlab.holdNextCreate();
    const dispatched = dispatchGitlab(serviceTarget(service), id);
    const pipeline = await held.created;
    gitlab.setPipeline(pipeline.id, { status: "running" });
    expect((await deliverPipeline(service, gitlab, pipeline)).body).toBe("ok\n");
    expect(pipelineRow(service.tack.database, id.pipelineRkey)?.pipeline_id).toBe(
      BigInt(pipeline.id),
    );
    held.release();
    expect(await dispatched).toBe("spawned");
    expect(statusesOf(service.tack.broker.store, id).map((s) => s.status)).toEqual([
      "pending",
      "running",
    ]);
    expect(gitlab.pipelines.size).toBe(1);
  });

  test("a pipeline of another project naming our correlation id cannot claim the workflow", async () => {
    const gitlab = startFakeGitlab();
    const service = await gitlabTack(gitlab);
    const id = newWorkflowId();
    const held = gitlab.holdNextCreate();
    const dispatched = dispatchGitlab(serviceTarget(service), id);
    const pipeline = await held.created;
    const forged = gitlab.pipelineHook(pipeline) as {
      object_attributes: Record<string, unknown>;
      project: Record<string, unknown>;
    };
    forged.object_attributes.id = pipeline.id + 1000;
    forged.object_attributes.status = "success";
    forged.project.id = 9;
    forged.project.path_with_namespace = "mallory/copycat";
    expect(await deliverGitlab(service.http, { event: "Pipeline Hook", payload: forged })).toEqual({
      status: 200,
      body: "ignored: not a pipeline tack created\n",
    });
    held.release();
    await dispatched;
    expect(pipelineRow(service.tack.database, id.pipelineRkey)?.pipeline_id).toBe(
      BigInt(pipeline.id),
    );
    expect(statusesOf(service.tack.broker.store, id)).toEqual([{ status: "pending" }]);
  });

  test("a failed pipeline is confirmed through the API: a job's timeout makes it a timeout", async () => {
    const gitlab = startFakeGitlab();
    const service = await gitlabTack(gitlab);
    const { id, pipeline } = await spawned(gitlab, service);
    gitlab.addJob(pipeline.id, {
      name: "build",
      status: "failed",
      failure_reason: "job_execution_timeout",
      started_at: new Date().toISOString(),
    });
    gitlab.setPipeline(pipeline.id, { status: "failed" });
    // The payload lists no builds (as when a hook is trimmed): the API's jobs tell.
    const payload = { ...gitlab.pipelineHook(pipeline), builds: [] };
    expect((await deliverGitlab(service.http, { event: "Pipeline Hook", payload })).body).toBe(
      "ok\n",
    );
    expect(statusesOf(service.tack.broker.store, id).at(-1)).toEqual({
      status: "timeout",
      error: `GitLab job "build" timed out (job_execution_timeout): https://gitlab.example.com/acme/tangled-runner/-/pipelines/${pipeline.id}`,
    });
  });

  test("an API read behind the webhook, or an API that fails, leaves the payload's word", async () => {
    const gitlab = startFakeGitlab();
    const service = await gitlabTack(gitlab);
    const behind = await spawned(gitlab, service);
    gitlab.addJob(behind.pipeline.id, {
      name: "unit",
      status: "failed",
      failure_reason: "script_failure",
      started_at: new Date().toISOString(),
    });
    gitlab.setPipeline(behind.pipeline.id, { status: "failed" });
    const failed = gitlab.pipelineHook(behind.pipeline);
    gitlab.setPipeline(behind.pipeline.id, { status: "running" });
    await deliverGitlab(service.http, { event: "Pipeline Hook", payload: failed });
    expect(statusesOf(service.tack.broker.store, behind.id).at(-1)).toEqual({
      status: "failed",
      error: `GitLab pipeline failed: job "unit" failed (script_failure): https://gitlab.example.com/acme/tangled-runner/-/pipelines/${behind.pipeline.id}`,
    });

    const down = await spawned(gitlab, service);
    gitlab.setPipeline(down.pipeline.id, { status: "success" });
    gitlab.failNext("GET", /\/pipelines\/\d+$/, 500);
    expect((await deliverPipeline(service, gitlab, down.pipeline)).body).toBe("ok\n");
    await until(
      () => service.tack.workflows.get(down.id)?.status === "success",
      "success from the payload",
    );
    expect(
      service.logs.some(
        (line) => line.msg === "gitlab webhook: could not confirm from the API, using the payload",
      ),
    ).toBe(true);
  });
});
