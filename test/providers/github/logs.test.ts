/**
 * A GitHub workflow's log over the real /logs WebSocket: the run block, one block per job,
 * step progress while a job runs, the full job log (through GitHub's redirect, without the
 * token) once it completes, and the close.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { LogLine } from "../../../src/providers/provider.ts";
import type { FakeGithub, FakeRun, FakeStep } from "../../helpers/fake-github.ts";
import { deliverGithub } from "../../helpers/sign-github.ts";
import type { TestTack } from "../../helpers/tack.ts";
import { connect, upgradeStatus } from "../../helpers/ws.ts";
import {
  dispatchGithub,
  githubProvider,
  githubTack,
  jobPayload,
  newWorkflowId,
  runPayload,
  serviceTarget,
  startFakeGithub,
  until,
} from "./harness.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

const BUILD_LOG = [
  "\uFEFF2026-11-26T20:00:10.1234567Z ##[group]Run actions/checkout",
  "2026-11-26T20:00:10.2000000Z git clone https://knot.test:6000/did:plc:owner/app",
  "2026-11-26T20:00:11.0000000Z ##[endgroup]",
  "2026-11-26T20:00:12.5000000Z \u001b[32mok\u001b[0m 12 tests passed",
  "2026-11-26T20:00:13.0000000Z ##[error]\u001b[31mwarning turned error\u001b[0m",
  "",
].join("\r\n");

function steps(states: [string, string, string | null][]): FakeStep[] {
  return states.map(([name, status, conclusion], i) => ({
    name,
    status,
    conclusion,
    number: i + 1,
    started_at: status === "queued" ? null : "2026-11-26T20:00:10Z",
    completed_at: status === "completed" ? "2026-11-26T20:00:14Z" : null,
  }));
}

async function spawned(github: FakeGithub, service: TestTack) {
  const id = newWorkflowId();
  await dispatchGithub(serviceTarget(service), id);
  const run = github.lastRun();
  const url = `${service.ws}/logs/${id.knot}/${id.pipelineRkey}/${id.name}`;
  return { id, run, url };
}

function deliverRun(service: TestTack, run: FakeRun) {
  return deliverGithub(service.http, { event: "workflow_run", payload: runPayload(run) });
}

type Line = LogLine;

describe("github logs", () => {
  test("a finished run: run block, then each job's full log, then close 1000", async () => {
    const github = startFakeGithub();
    const service = await githubTack(github);
    const { id, run, url } = await spawned(github, service);
    github.addJob(run.id, {
      name: "build",
      status: "completed",
      conclusion: "success",
      started_at: "2026-11-26T20:00:09Z",
      completed_at: "2026-11-26T20:00:31Z",
      steps: steps([["Set up job", "completed", "success"]]),
      log: BUILD_LOG,
    });
    github.addJob(run.id, {
      name: "lint",
      status: "completed",
      conclusion: "skipped",
      started_at: "2026-11-26T20:00:31Z",
      completed_at: "2026-11-26T20:00:31Z",
    });
    github.setRun(run.id, { status: "completed", conclusion: "success" });
    await deliverRun(service, github.lastRun());
    await until(() => service.tack.workflows.get(id)?.status === "success", "success");

    const client = connect(url);
    expect(await client.closed).toEqual({ code: 1000, reason: "log stream complete" });
    const lines = client.frames.map((frame) => JSON.parse(frame) as Line);
    for (const line of lines) expect(Value.Check(LogLine, line)).toBe(true);
    expect(lines.map((l) => [l.kind, l.step_id, l.step_status ?? l.stream, l.content])).toEqual([
      ["control", 0, "start", "GitHub Actions run"],
      ["data", 0, "stdout", `https://github.com/acme/tangled-runner/actions/runs/${run.id}`],
      ["control", 0, "end", "GitHub Actions run"],
      ["control", 1, "start", "build"],
      ["data", 1, "stdout", "##[group]Run actions/checkout"],
      ["data", 1, "stdout", "git clone https://knot.test:6000/did:plc:owner/app"],
      ["data", 1, "stdout", "##[endgroup]"],
      ["data", 1, "stdout", "ok 12 tests passed"],
      ["data", 1, "stderr", "##[error]warning turned error"],
      ["control", 1, "end", "build"],
      ["control", 2, "start", "lint"],
      ["data", 2, "stdout", "no log from GitHub (job skipped)"],
      ["control", 2, "end", "lint"],
    ]);
    // Times come from GitHub's line timestamps (truncated to ms) and the job's own times.
    expect(lines[3]?.time).toBe("2026-11-26T20:00:09Z");
    expect(lines[4]?.time).toBe("2026-11-26T20:00:10.123Z");
    expect(lines[7]?.time).toBe("2026-11-26T20:00:12.5Z");
    expect(lines[9]?.time).toBe("2026-11-26T20:00:31Z");
    // The log came through the redirect, and the storage host never saw the token.
    expect(github.calls.filter((call) => call.host === "storage")).toHaveLength(1);
    expect(github.problems).toEqual([]);
  });

  test("a live run shows steps as they complete, then the full log when the job does", async () => {
    const github = startFakeGithub();
    const service = await githubTack(github);
    const { id, run, url } = await spawned(github, service);
    const job = github.addJob(run.id, {
      name: "build",
      status: "in_progress",
      started_at: "2026-11-26T20:00:09Z",
      steps: steps([
        ["Set up job", "completed", "success"],
        ["Clone the Tangled repository", "in_progress", null],
        ["Build and test", "queued", null],
      ]),
    });
    github.setRun(run.id, { status: "in_progress" });
    await deliverRun(service, github.lastRun());
    await until(() => service.tack.workflows.get(id)?.status === "running", "running");

    const client = connect(url);
    const early = (await client.waitFor(5)).map((frame) => JSON.parse(frame) as Line);
    expect(early.slice(3).map((l) => [l.kind, l.step_id, l.content])).toEqual([
      ["control", 1, "build"],
      ["data", 1, 'step "Set up job": success'],
    ]);

    // The clone step finishes; a job webhook wakes the stream.
    github.setJob(job.id, {
      steps: steps([
        ["Set up job", "completed", "success"],
        ["Clone the Tangled repository", "completed", "success"],
        ["Build and test", "in_progress", null],
      ]),
    });
    await deliverGithub(service.http, {
      event: "workflow_job",
      payload: jobPayload(run.id, "in_progress"),
    });
    expect(JSON.parse(await client.frame(5))).toMatchObject({
      kind: "data",
      step_id: 1,
      content: 'step "Clone the Tangled repository": success',
    });

    // The job and the run complete.
    github.setJob(job.id, {
      status: "completed",
      conclusion: "failure",
      completed_at: "2026-11-26T20:00:31Z",
      steps: steps([
        ["Set up job", "completed", "success"],
        ["Clone the Tangled repository", "completed", "success"],
        ["Build and test", "completed", "failure"],
      ]),
      log: "2026-11-26T20:00:20.0000000Z make test\n2026-11-26T20:00:30.0000000Z ##[error]Process completed with exit code 2.\n",
    });
    github.setRun(run.id, { status: "completed", conclusion: "failure" });
    await deliverGithub(service.http, {
      event: "workflow_job",
      payload: jobPayload(run.id, "completed"),
    });
    await deliverRun(service, github.lastRun());

    expect(await client.closed).toEqual({ code: 1000, reason: "log stream complete" });
    const rest = client.frames.slice(6).map((frame) => JSON.parse(frame) as Line);
    expect(rest.map((l) => [l.kind, l.step_id, l.step_status ?? l.stream, l.content])).toEqual([
      ["data", 1, "stdout", "make test"],
      ["data", 1, "stderr", "##[error]Process completed with exit code 2."],
      ["control", 1, "end", "build"],
    ]);
    expect(service.tack.workflows.get(id)?.status).toBe("failed");
  });

  test("a look that fails halfway is retried without losing or repeating lines", async () => {
    const github = startFakeGithub();
    const tack = githubProvider(github);
    const id = newWorkflowId();
    await dispatchGithub(tack, id);
    const run = github.lastRun();
    const job = github.addJob(run.id, {
      name: "build",
      status: "in_progress",
      started_at: "2026-11-26T20:00:09Z",
    });
    const workflow = tack.workflows.get(id);
    if (!workflow) throw new Error("unknown workflow");
    const lines: Line[] = [];
    const stream = await tack.provider.logs(workflow, new AbortController().signal);
    const reading = (async () => {
      for await (const line of stream) lines.push(line);
    })();
    await until(() => lines.length === 4, "run block and job start");

    // The job log's first download fails after the jobs list succeeded.
    github.failNext("GET", /\/actions\/jobs\/\d+\/logs$/, 401, 1);
    github.setJob(job.id, {
      status: "completed",
      conclusion: "success",
      completed_at: "2026-11-26T20:00:31Z",
      log: "2026-11-26T20:00:20.0000000Z done\n",
    });
    github.setRun(run.id, { status: "completed", conclusion: "success" });
    await reading;
    expect(lines.map((l) => [l.kind, l.step_id, l.step_status ?? l.content])).toEqual([
      ["control", 0, "start"],
      ["data", 0, `https://github.com/acme/tangled-runner/actions/runs/${run.id}`],
      ["control", 0, "end"],
      ["control", 1, "start"],
      ["data", 1, "done"],
      ["control", 1, "end"],
    ]);
    expect(tack.logs.some((l) => l.msg === "github logs: look failed, retrying")).toBe(true);
    expect(tack.workflows.get(id)?.status).toBe("success");
  });

  test("a GitHub that refuses the jobs call is a 500 before the upgrade", async () => {
    const github = startFakeGithub();
    const service = await githubTack(github);
    const { url } = await spawned(github, service);
    github.failNext("GET", /\/jobs$/, 401, 1);
    expect(await upgradeStatus(url)).toEqual({ status: 500, body: "logs unavailable\n" });
    expect(service.logs.some((l) => l.msg === "logs: open failed")).toBe(true);
  });
});
