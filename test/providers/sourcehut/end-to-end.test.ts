/**
 * End to end over loopback, with the provider's production timings on a fast clock: a knot
 * announces a pipeline routed to `tack: { sourcehut: … }`, tack submits the job to the
 * builds.sr.ht stand-in, follows it by polling to /events, streams its logs on /logs and
 * sh.tangled.ci.subscribePipelineLogs, and cancels a running job through cancelPipeline. A
 * token without LOGS:RO makes /logs fail loudly, naming the missing grant in tack's log.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { decodeMultiple } from "cbor-x";
import type { LogLine } from "../../../src/providers/provider.ts";
import { actionsNetwork, REPO_DID, xrpcPost } from "../../helpers/actions-network.ts";
import { cleanupAfterEach } from "../../helpers/cleanup.ts";
import { fastClock } from "../../helpers/clock.ts";
import { FakeSourcehut, NO_LOGS_TOKEN } from "../../helpers/fake-sourcehut.ts";
import { until } from "../../helpers/wait.ts";
import { OWNER, pipelineRecord } from "../../helpers/wire.ts";
import { connect, upgradeStatus } from "../../helpers/ws.ts";
import { sourcehutConfig } from "./harness.ts";

// Real servers: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);
const defer = cleanupAfterEach();

const WORKFLOW = `when:
  - event: ["push"]
    branch: ["main"]
engine: tack
tack:
  sourcehut:
    manifest: |
      image: alpine/edge
      tasks:
        - build: |
            make
        - test: |
            make check
`;

async function network(token?: string) {
  const sourcehut = FakeSourcehut.start();
  defer(() => sourcehut.stop());
  const net = await actionsNetwork(
    defer,
    "ES256",
    { clock: fastClock() },
    { providers: { sourcehut: sourcehutConfig(sourcehut, token) } },
  );
  const push = () =>
    net.knot.push(
      "sh.tangled.pipeline",
      pipelineRecord({
        knot: net.knot.host,
        did: OWNER,
        repoDid: REPO_DID,
        workflows: [{ name: "srht.yml", raw: WORKFLOW }],
      }),
    );
  return { ...net, sourcehut, push };
}

describe("sourcehut end to end", () => {
  test("trigger → job → pending, running, success on /events → logs on both log routes", async () => {
    const { sourcehut, service, knot, push } = await network();
    const events = connect(`${service.ws}/events`);
    await events.opened;
    const rkey = push();
    await until(() => sourcehut.jobs.size === 1, "job submitted");
    const job = sourcehut.lastJob();
    expect(job.environment).toMatchObject({
      TACK_KNOT: knot.host,
      TACK_PIPELINE_RKEY: rkey,
      TACK_WORKFLOW: "srht.yml",
      TACK_WORKFLOW_RAW: WORKFLOW,
      TACK_SECRETS_URL: "http://spindle.test/secrets",
    });
    expect(String(job.environment.TACK_SECRETS_TOKEN)).toMatch(/^\S{20,}$/);
    sourcehut.start(job.id);
    await until(
      () =>
        service.tack.workflows.get({ knot: knot.host, pipelineRkey: rkey, name: "srht.yml" })
          ?.status === "running",
      "running",
    );
    // A /logs reader joins while the job runs and follows it to the end.
    const live = connect(`${service.ws}/logs/${knot.host}/${rkey}/srht.yml`);
    await live.opened;
    sourcehut.runToEnd(job.id, "SUCCESS");
    const frames = await events.waitFor(3);
    expect(
      frames.map((frame) => (JSON.parse(frame) as { event: { status: string } }).event.status),
    ).toEqual(["pending", "running", "success"]);
    events.close();
    expect((await live.closed).code).toBe(1000);
    const lines = live.frames.map((frame) => JSON.parse(frame) as LogLine);
    expect(
      lines
        .filter((line) => line.kind === "control")
        .map((line) => `${line.step_id}:${line.step_status}:${line.content}`),
    ).toEqual([
      `0:start:builds.sr.ht job #${job.id}`,
      "1:start:build",
      "1:end:build",
      "2:start:test",
      "2:end:test",
      `0:end:builds.sr.ht job #${job.id}`,
    ]);
    expect(
      lines
        .filter((line) => line.step_id === 1 && line.kind === "data")
        .map((line) => line.content),
    ).toEqual(["+ echo build", "build ok"]);

    // Today's appview reads the same lines as event-stream frames.
    const socket = new WebSocket(
      `${service.ws}/xrpc/sh.tangled.ci.subscribePipelineLogs?pipeline=${rkey}`,
    );
    socket.binaryType = "arraybuffer";
    const bodies: Record<string, unknown>[] = [];
    socket.addEventListener("message", (event) => {
      const [, body] = decodeMultiple(new Uint8Array(event.data as ArrayBuffer)) as unknown[];
      bodies.push(body as Record<string, unknown>);
    });
    await new Promise((resolve) => socket.addEventListener("close", resolve));
    expect(bodies.map((body) => body.content)).toEqual(
      lines.map((line) => (line.kind === "control" ? line.content : `${line.content}\n`)),
    );
    expect(sourcehut.problems).toEqual([]);
  });

  test("cancelPipeline stops the running job; sourcehut's later report changes nothing", async () => {
    const { sourcehut, service, knot, owner, push } = await network();
    const rkey = push();
    await until(() => sourcehut.jobs.size === 1, "job submitted");
    const job = sourcehut.lastJob();
    sourcehut.start(job.id);
    const id = { knot: knot.host, pipelineRkey: rkey, name: "srht.yml" };
    await until(() => service.tack.workflows.get(id)?.status === "running", "running");
    const CANCEL = "sh.tangled.ci.cancelPipeline";
    const answer = await xrpcPost(
      service,
      CANCEL,
      { repo: REPO_DID, pipeline: rkey },
      owner.auth(CANCEL),
    );
    expect(answer.status).toBe(200);
    expect(sourcehut.job(job.id).status).toBe("CANCELLED");
    expect(service.tack.workflows.get(id)?.status).toBe("cancelled");
    // The poller sees CANCELLED too, and the workflow keeps its one cancelled status.
    await until(() => sourcehut.callsTo("poll").length >= 2, "polled after the cancel");
    expect(service.tack.workflows.get(id)?.status).toBe("cancelled");
  });

  test("a token without LOGS:RO: /logs is a real 500 and tack's log names the missing grant", async () => {
    const { sourcehut, service, knot, push } = await network(NO_LOGS_TOKEN);
    const rkey = push();
    const id = { knot: knot.host, pipelineRkey: rkey, name: "srht.yml" };
    await until(() => service.tack.workflows.get(id)?.spawned === true, "job submitted");
    sourcehut.start(sourcehut.lastJob().id);
    const legacy = await upgradeStatus(`${service.ws}/logs/${knot.host}/${rkey}/srht.yml`);
    expect(legacy).toEqual({ status: 500, body: "logs unavailable\n" });
    const current = await upgradeStatus(
      `${service.ws}/xrpc/sh.tangled.ci.subscribePipelineLogs?pipeline=${rkey}`,
    );
    expect(current.status).toBe(500);
    const failures = service.logs.filter((line) => line.msg === "logs: open failed");
    expect(failures).toHaveLength(2);
    for (const failure of failures) {
      expect(String(failure.err)).toContain("lacks builds.sr.ht/LOGS:RO");
      expect(JSON.stringify(failure)).not.toContain(NO_LOGS_TOKEN);
    }
  });
});
