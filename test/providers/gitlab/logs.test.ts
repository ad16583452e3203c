/**
 * A GitLab workflow's log over the real /logs WebSocket: the pipeline block, one block per job
 * that ran, each job's trace followed as it grows (only the new bytes turned into lines, with
 * or without Range support on GitLab's side), jobs that never started, and the close.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { LogLine } from "../../../src/providers/provider.ts";
import { deliverGitlab, type FakeGitlab } from "../../helpers/fake-gitlab.ts";
import type { TestTack } from "../../helpers/tack.ts";
import { connect, upgradeStatus } from "../../helpers/ws.ts";
import {
  dispatchGitlab,
  gitlabProvider,
  gitlabTack,
  newWorkflowId,
  serviceTarget,
  startFakeGitlab,
  until,
} from "./harness.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

const ESC = "\u001b";
const TRACE_START = [
  `${ESC}[0KRunning with gitlab-runner 18.6.0 (3a5f2314)${ESC}[0;m`,
  `${ESC}[0Ksection_start:1768988825:prepare_executor\r${ESC}[0K${ESC}[0K${ESC}[36;1mPreparing the "docker" executor${ESC}[0;m`,
  `${ESC}[0Ksection_end:1768988826:prepare_executor\r${ESC}[0K`,
  `${ESC}[32;1m$ make test${ESC}[0;m`,
  "ok 12 tests pass",
  "",
].join("\n");
const TRACE_END = [`${ESC}[31;1mERROR: Job failed: exit code 2${ESC}[0;m`, ""].join("\n");

type Line = LogLine;

async function spawned(gitlab: FakeGitlab, service: TestTack) {
  const id = newWorkflowId();
  await dispatchGitlab(serviceTarget(service), id);
  const pipeline = gitlab.lastPipeline();
  const url = `${service.ws}/logs/${id.knot}/${id.pipelineRkey}/${id.name}`;
  return { id, pipeline, url };
}

function shown(lines: Line[]) {
  return lines.map((l) => [l.kind, l.step_id, l.step_status ?? l.stream, l.content]);
}

describe("gitlab logs", () => {
  for (const honourRange of [false, true]) {
    test(`a live job's trace is followed as it grows, then the block closes (Range ${honourRange ? "honoured" : "ignored, as on gitlab.com"})`, async () => {
      const gitlab = startFakeGitlab();
      gitlab.honourRange = honourRange;
      const service = await gitlabTack(gitlab);
      const { id, pipeline, url } = await spawned(gitlab, service);
      const job = gitlab.addJob(pipeline.id, {
        name: "test",
        status: "running",
        started_at: "2026-11-26T20:00:09Z",
        trace: TRACE_START,
      });
      gitlab.addJob(pipeline.id, { name: "deploy", status: "manual" });
      gitlab.setPipeline(pipeline.id, { status: "running" });
      await deliverGitlab(service.http, {
        event: "Pipeline Hook",
        payload: gitlab.pipelineHook(pipeline),
      });
      await until(() => service.tack.workflows.get(id)?.status === "running", "running");

      const client = connect(url);
      const early = (await client.waitFor(7)).map((frame) => JSON.parse(frame) as Line);
      expect(shown(early)).toEqual([
        ["control", 0, "start", "GitLab pipeline"],
        [
          "data",
          0,
          "stdout",
          `https://gitlab.example.com/acme/tangled-runner/-/pipelines/${pipeline.id}`,
        ],
        ["control", 0, "end", "GitLab pipeline"],
        ["control", 1, "start", "test"],
        ["data", 1, "stdout", "Running with gitlab-runner 18.6.0 (3a5f2314)"],
        ["data", 1, "stdout", 'Preparing the "docker" executor'],
        ["data", 1, "stdout", "$ make test"],
      ]);
      expect(early[3]?.time).toBe("2026-11-26T20:00:09Z");
      expect(early[5]?.time).toBe(new Date(1768988825 * 1000).toISOString().replace(".000", ""));

      // More output, then the job and the pipeline fail; a job webhook wakes the stream.
      gitlab.setJob(job.id, { trace: TRACE_START + TRACE_END });
      await deliverGitlab(service.http, { event: "Job Hook", payload: gitlab.jobHook(job) });
      await client.waitFor(9);
      gitlab.setJob(job.id, {
        status: "failed",
        failure_reason: "script_failure",
        finished_at: "2026-11-26T20:00:31Z",
      });
      gitlab.setPipeline(pipeline.id, { status: "failed" });
      await deliverGitlab(service.http, {
        event: "Pipeline Hook",
        payload: gitlab.pipelineHook(pipeline),
      });

      expect(await client.closed).toEqual({ code: 1000, reason: "log stream complete" });
      const lines = client.frames.map((frame) => JSON.parse(frame) as Line);
      for (const line of lines) expect(Value.Check(LogLine, line)).toBe(true);
      // Every line once: what was read before is never sent again.
      expect(shown(lines.slice(7))).toEqual([
        ["data", 1, "stdout", "ok 12 tests pass"],
        ["data", 1, "stdout", "ERROR: Job failed: exit code 2"],
        ["control", 1, "end", "test"],
      ]);
      expect(lines.at(-1)?.time).toBe("2026-11-26T20:00:31Z");
      // After the first read, each one asked only for what was new.
      const reads = gitlab.callsTo("GET", new RegExp(`/jobs/${job.id}/trace$`));
      expect(reads[0]?.headers.get("range")).toBeNull();
      expect(
        reads.slice(1).every((read) => /^bytes=\d+-$/.test(read.headers.get("range") ?? "")),
      ).toBe(true);
      expect(service.tack.workflows.get(id)?.status).toBe("failed");
      expect(gitlab.problems).toEqual([]);
    });
  }

  test("a finished pipeline: jobs in order, one that failed before starting says why, skipped ones show nothing", async () => {
    const gitlab = startFakeGitlab();
    const service = await gitlabTack(gitlab);
    const { id, pipeline, url } = await spawned(gitlab, service);
    gitlab.addJob(pipeline.id, {
      name: "build",
      status: "success",
      started_at: "2026-11-26T20:00:01Z",
      finished_at: "2026-11-26T20:00:05Z",
      trace: "2026-11-26T20:00:02.000000Z 00O built\n2026-11-26T20:00:03.000000Z 00E a warning\n",
    });
    gitlab.addJob(pipeline.id, {
      name: "arm64",
      status: "failed",
      failure_reason: "stuck_or_timeout_failure",
    });
    gitlab.addJob(pipeline.id, { name: "deploy", status: "skipped" });
    gitlab.setPipeline(pipeline.id, { status: "failed" });
    await deliverGitlab(service.http, {
      event: "Pipeline Hook",
      payload: gitlab.pipelineHook(pipeline),
    });
    await until(() => service.tack.workflows.get(id)?.status === "timeout", "timeout");

    const client = connect(url);
    expect(await client.closed).toEqual({ code: 1000, reason: "log stream complete" });
    const lines = client.frames.map((frame) => JSON.parse(frame) as Line);
    expect(shown(lines.slice(3))).toEqual([
      ["control", 1, "start", "build"],
      ["data", 1, "stdout", "built"],
      ["data", 1, "stderr", "a warning"],
      ["control", 1, "end", "build"],
      ["control", 2, "start", "arm64"],
      ["data", 2, "stderr", "did not start: failed (stuck_or_timeout_failure)"],
      ["control", 2, "end", "arm64"],
    ]);
    expect(lines[4]?.time).toBe("2026-11-26T20:00:02Z");
  });

  test("a look that fails halfway is retried without losing or repeating lines", async () => {
    const gitlab = startFakeGitlab();
    const tack = gitlabProvider(gitlab);
    const id = newWorkflowId();
    await dispatchGitlab(tack, id);
    const pipeline = gitlab.lastPipeline();
    const job = gitlab.addJob(pipeline.id, {
      name: "build",
      status: "running",
      started_at: "2026-11-26T20:00:09Z",
      trace: "one\n",
    });
    const workflow = tack.workflows.get(id);
    if (!workflow) throw new Error("unknown workflow");
    const lines: Line[] = [];
    const stream = await tack.provider.logs(workflow, new AbortController().signal);
    const reading = (async () => {
      for await (const line of stream) lines.push(line);
    })();
    await until(() => lines.length === 5, "pipeline block, job start and the first line");

    // The next trace read fails after the jobs list succeeded.
    gitlab.failNext("GET", /\/jobs\/\d+\/trace$/, 401, 1);
    gitlab.setJob(job.id, {
      status: "success",
      finished_at: "2026-11-26T20:00:31Z",
      trace: "one\ntwo\n",
    });
    gitlab.setPipeline(pipeline.id, { status: "success" });
    await until(() => tack.workflows.get(id)?.status === "success", "success by polling");
    await reading;
    expect(lines.map((l) => [l.kind, l.step_id, l.step_status ?? l.content])).toEqual([
      ["control", 0, "start"],
      ["data", 0, `https://gitlab.example.com/acme/tangled-runner/-/pipelines/${pipeline.id}`],
      ["control", 0, "end"],
      ["control", 1, "start"],
      ["data", 1, "one"],
      ["data", 1, "two"],
      ["control", 1, "end"],
    ]);
    expect(tack.logs.some((l) => l.msg === "gitlab logs: look failed, retrying")).toBe(true);
  });

  test("a GitLab that refuses the jobs call is a 500 before the upgrade", async () => {
    const gitlab = startFakeGitlab();
    const service = await gitlabTack(gitlab);
    const { url } = await spawned(gitlab, service);
    gitlab.failNext("GET", /\/jobs$/, 401, 1);
    expect(await upgradeStatus(url)).toEqual({ status: 500, body: "logs unavailable\n" });
    expect(service.logs.some((l) => l.msg === "logs: open failed")).toBe(true);
  });
});
