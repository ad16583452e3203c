import { expect, setDefaultTimeout, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { systemClock } from "../../src/clock.ts";
import { MAX_LOG_STREAMS } from "../../src/http/log-stream.ts";
import { silentLogger } from "../../src/log.ts";
import { dispatchWorkflow } from "../../src/pipeline/dispatch.ts";
import { isTerminal } from "../../src/pipeline/status.ts";
import { LogLine, type Provider } from "../../src/providers/provider.ts";
import { startTestTack, type TestTack } from "../helpers/tack.ts";
import { until } from "../helpers/wait.ts";
import { connect, upgradeStatus } from "../helpers/ws.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

const brokenCi: Provider = {
  name: "broken",
  checkOptions: () => undefined,
  spawn: async () => {},
  logs: async () => {
    throw new Error("CI API answered 502");
  },
  cancel: async () => {},
  resume: async () => {},
  stop: async () => {},
};

async function dispatch(service: TestTack, name: string, provider: string, options = {}) {
  const id = { knot: "knot.test:6000", pipelineRkey: "3m6mxh2znw222", name };
  const deps = {
    workflows: service.tack.workflows,
    providers: service.tack.providers,
    log: silentLogger,
  };
  await dispatchWorkflow(deps, { id, provider, options, context: {} });
  return `${service.ws}/logs/${id.knot}/${id.pipelineRkey}/${name}`;
}

test("an unknown workflow is a 404 before the upgrade", async () => {
  await using service = await startTestTack();
  expect(await upgradeStatus(`${service.ws}/logs/knot.test/3m6mxh2znw222/nope.yml`)).toEqual({
    status: 404,
    body: "logs not found\n",
  });
});

test("a provider failure is a 500 before the upgrade, without internals", async () => {
  await using service = await startTestTack({ overrides: { providers: () => [brokenCi] } });
  const url = await dispatch(service, "ci.yml", "broken");
  expect(await upgradeStatus(url)).toEqual({ status: 500, body: "logs unavailable\n" });
  expect(
    service.logs.some((l) => l.msg === "logs: open failed" && l.err === "CI API answered 502"),
  ).toBe(true);
});

test("a finished workflow's log arrives as LogLine frames, then close 1000", async () => {
  await using service = await startTestTack();
  const url = await dispatch(service, "ci.yml", "fake", { result: "failed" });
  const id = { knot: "knot.test:6000", pipelineRkey: "3m6mxh2znw222", name: "ci.yml" };
  while (!isTerminal(service.tack.workflows.get(id)?.status ?? "pending")) await Bun.sleep(20);

  const client = connect(url);
  const closed = await client.closed;
  expect(closed).toEqual({ code: 1000, reason: "log stream complete" });
  const lines = client.frames.map((frame) => JSON.parse(frame) as unknown);
  expect(lines).toHaveLength(7);
  for (const line of lines) expect(Value.Check(LogLine, line)).toBe(true);
  expect(client.frames[0]).toMatch(
    /^\{"kind":"control","content":"fake step 1","time":"[^"]+Z","step_id":0,"step_status":"start","step_kind":1,"step_command":"echo step 1"\}$/,
  );
  expect(lines).toContainEqual(
    expect.objectContaining({ kind: "data", content: "finished: failed", stream: "stderr" }),
  );
});

test("a workflow rejected before any provider shows its error as the log", async () => {
  await using service = await startTestTack();
  const url = await dispatch(service, "bad.yml", "nosuchci");
  const client = connect(url);
  expect((await client.closed).code).toBe(1000);
  expect(client.frames).toEqual([
    '{"kind":"control","content":"","time":"0001-01-01T00:00:00Z","step_id":0,"step_kind":1}',
    '{"kind":"data","content":"unknown provider \\"nosuchci\\": this spindle runs \\"fake\\"","time":"0001-01-01T00:00:00Z","step_id":0}',
  ]);
});

test("a running workflow's log is followed live until it finishes", async () => {
  await using service = await startTestTack();
  const url = await dispatch(service, "live.yml", "fake");
  const client = connect(url);
  const closed = await client.closed;
  expect(closed.code).toBe(1000);
  expect(client.frames).toHaveLength(6);
  expect(
    service.tack.workflows.get({
      knot: "knot.test:6000",
      pipelineRkey: "3m6mxh2znw222",
      name: "live.yml",
    })?.status,
  ).toBe("success");
});

test("an over-long path segment is a 400 before the upgrade", async () => {
  await using service = await startTestTack();
  const { status, body } = await upgradeStatus(
    `${service.ws}/logs/knot.test/${"r".repeat(300)}/ci.yml`,
  );
  expect(status).toBe(400);
  expect(body).toBe("bad request: params/rkey: Expected string length less or equal to 256\n");
});

test("log streams are capped: one more than allowed is a 503 before the upgrade", async () => {
  // The real clock: the fake run (one status a second) stays running while the streams open.
  await using service = await startTestTack({ overrides: { clock: systemClock } });
  const url = await dispatch(service, "live.yml", "fake", { steps: 20 });
  // A running fake workflow's log stays open (followed live) until the run ends.
  const open = Array.from({ length: MAX_LOG_STREAMS }, () => connect(url));
  await until(() => service.tack.sockets.count("logs") === MAX_LOG_STREAMS, "streams open");
  expect(await upgradeStatus(url)).toEqual({
    status: 503,
    body: "too many log streams open; try again shortly\n",
  });
  for (const client of open) client.close();
  await until(() => service.tack.sockets.count("logs") === 0, "streams closed");
  expect((await upgradeStatus(url)).status).toBe(101);
});
