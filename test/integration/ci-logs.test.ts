/**
 * sh.tangled.ci.subscribePipelineLogs end to end: a pipeline run by the fake provider, its logs
 * read over a real WebSocket as binary event-stream frames and decoded with cbor-x (not the
 * encoder tack uses), every body held against the lexicon. Also the errors answered before the
 * upgrade and the one cap both log routes share.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { decodeMultiple } from "cbor-x";
import { MAX_LOG_STREAMS } from "../../src/http/log-stream.ts";
import type { LogLine, Provider } from "../../src/providers/provider.ts";
import { ciNetwork, REPO_DID } from "../helpers/ci-network.ts";
import { cleanupAfterEach } from "../helpers/cleanup.ts";
import type { FakeKnot } from "../helpers/fake-knot.ts";
import { assertLexiconMessage } from "../helpers/lexicons.ts";
import type { TestTack } from "../helpers/tack.ts";
import { until } from "../helpers/wait.ts";
import { OWNER, pipelineRecord } from "../helpers/wire.ts";
import { connect, upgradeStatus } from "../helpers/ws.ts";

setDefaultTimeout(30_000);
const defer = cleanupAfterEach();

const PATH = "/xrpc/sh.tangled.ci.subscribePipelineLogs";

interface Frame {
  header: { t: string; op: number };
  body: Record<string, unknown>;
}

/** Opens the subscription and collects decoded frames until the server closes it. */
function subscribe(service: TestTack, query: string) {
  const socket = new WebSocket(`${service.ws}${PATH}?${query}`);
  socket.binaryType = "arraybuffer";
  const frames: Frame[] = [];
  const opened = new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve());
    socket.addEventListener("error", () => reject(new Error("websocket error")));
  });
  opened.catch(() => {});
  socket.addEventListener("message", (event) => {
    expect(event.data).toBeInstanceOf(ArrayBuffer); // binary frames only
    const values = decodeMultiple(new Uint8Array(event.data as ArrayBuffer)) as unknown[];
    expect(values).toHaveLength(2);
    frames.push({ header: values[0] as Frame["header"], body: values[1] as Frame["body"] });
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.addEventListener("close", (event) =>
      resolve({ code: event.code, reason: event.reason }),
    ),
  );
  return { socket, frames, opened, closed };
}

async function runPipeline(
  service: TestTack,
  knot: FakeKnot,
  workflows: { name: string; raw: string }[],
) {
  const rkey = knot.push(
    "sh.tangled.pipeline",
    pipelineRecord({ knot: knot.host, did: OWNER, repoDid: REPO_DID, workflows }),
  );
  await until(
    () =>
      workflows.every((w) =>
        ["success", "failed"].includes(
          service.tack.workflows.get({ knot: knot.host, pipelineRkey: rkey, name: w.name })
            ?.status ?? "",
        ),
      ),
    "pipeline finished",
  );
  return rkey;
}

const TWO = [
  { name: "a.yml", raw: "engine: tack\ntack:\n  fake: { steps: 2 }\n" },
  { name: "b.yml", raw: "engine: tack\ntack:\n  fake: { steps: 1, result: failed }\n" },
];

describe("subscribePipelineLogs", () => {
  test("every workflow's log as #control and #data frames, then a close 1000", async () => {
    const { knot, service } = await ciNetwork(defer);
    const rkey = await runPipeline(service, knot, TWO);
    const stream = subscribe(service, `pipeline=${rkey}`);
    const closed = await stream.closed;
    expect(closed.code).toBe(1000);

    for (const frame of stream.frames) {
      expect(frame.header.op).toBe(1);
      expect(["#control", "#data"]).toContain(frame.header.t);
      expect(Object.keys(frame.header)).toEqual(["t", "op"]);
      const type = `sh.tangled.ci.subscribePipelineLogs${frame.header.t}`;
      assertLexiconMessage("sh.tangled.ci.subscribePipelineLogs", { $type: type, ...frame.body });
      expect(String(frame.body.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    // Per workflow, the frames are the /logs lines in order, re-shaped.
    for (const workflow of ["a.yml", "b.yml"]) {
      const legacy = connect(`${service.ws}/logs/${knot.host}/${rkey}/${workflow}`);
      expect((await legacy.closed).code).toBe(1000);
      const lines = legacy.frames.map((frame) => JSON.parse(frame) as LogLine);
      const mine = stream.frames.filter((frame) => frame.body.workflow === workflow);
      expect(mine.length).toBeGreaterThanOrEqual(3);
      expect(mine.map((frame) => frame.header.t)).toEqual(
        lines.map((line) => (line.kind === "control" ? "#control" : "#data")),
      );
      expect(mine.map((frame) => frame.body.content)).toEqual(
        lines.map((line) => (line.kind === "control" ? line.content : `${line.content}\n`)),
      );
      for (const [i, frame] of mine.entries()) {
        const line = lines[i];
        expect(frame.body.step).toBe(line?.step_id);
        if (line?.kind === "control") {
          expect(frame.body.kind).toBe("user");
          expect(frame.body.status).toBe(line.step_status);
          expect(frame.body.command).toBe(line.step_command);
        } else {
          expect(frame.body.stream).toBe(line?.stream ?? "stdout");
        }
      }
    }
    const failed = stream.frames.filter(
      (f) => f.body.workflow === "b.yml" && f.body.stream === "stderr",
    );
    expect(failed.map((f) => f.body.content)).toEqual(["finished: failed\n"]);
  });

  test("workflows selects the logs to stream", async () => {
    const { knot, service } = await ciNetwork(defer);
    const rkey = await runPipeline(service, knot, TWO);
    const stream = subscribe(service, `pipeline=${rkey}&workflows=b.yml`);
    expect((await stream.closed).code).toBe(1000);
    expect(stream.frames.length).toBeGreaterThan(0);
    expect(new Set(stream.frames.map((f) => f.body.workflow))).toEqual(new Set(["b.yml"]));
  });

  test("errors are answered as XRPC JSON before any upgrade", async () => {
    const { knot, service } = await ciNetwork(defer);
    const rkey = await runPipeline(service, knot, TWO);
    const cases: [string, number, string][] = [
      ["", 400, "InvalidRequest"],
      ["pipeline=not-a-tid", 400, "InvalidRequest"],
      ["pipeline=3m6mxh2znw222", 404, "PipelineNotFound"],
      [`pipeline=${rkey}&workflows=nope.yml`, 404, "WorkflowNotFound"],
      [`pipeline=${rkey}&workflows=a.yml&workflows=nope.yml`, 404, "WorkflowNotFound"],
    ];
    for (const [query, status, error] of cases) {
      const answer = await upgradeStatus(`${service.ws}${PATH}?${query}`);
      expect(answer.status).toBe(status);
      expect((JSON.parse(answer.body) as { error: string }).error).toBe(error);
    }
  });
});

describe("the log streams' shared cap", () => {
  /** A CI whose logs take `gate` to open and then follow a build that never ends. */
  function slowProvider(gate: Promise<void>, opened: { count: number }): Provider {
    return {
      name: "slow",
      checkOptions: () => undefined,
      spawn: async () => {},
      logs: async (_workflow, signal) => {
        opened.count++;
        await gate;
        return (async function* (): AsyncGenerator<LogLine> {
          yield { kind: "data", content: "building…", time: new Date().toISOString(), step_id: 0 };
          while (!signal.aborted) await Bun.sleep(20);
        })();
      },
      cancel: async () => {},
      resume: async () => {},
      stop: async () => {},
    };
  }

  async function slowPipeline(gate: Promise<void>, opened: { count: number }) {
    const network = await ciNetwork(defer, { providers: () => [slowProvider(gate, opened)] });
    const { knot, service } = network;
    const rkey = knot.push(
      "sh.tangled.pipeline",
      pipelineRecord({
        knot: knot.host,
        did: OWNER,
        repoDid: REPO_DID,
        workflows: [{ name: "slow.yml", raw: "engine: tack\ntack:\n  slow: {}\n" }],
      }),
    );
    await until(
      () =>
        service.tack.workflows.get({ knot: knot.host, pipelineRkey: rkey, name: "slow.yml" })
          ?.spawned === true,
      "spawned",
    );
    return { ...network, rkey };
  }

  test("both routes count against one cap; beyond it, 503 on either", async () => {
    const opened = { count: 0 };
    const { knot, service, rkey } = await slowPipeline(Promise.resolve(), opened);
    const legacyUrl = `${service.ws}/logs/${knot.host}/${rkey}/slow.yml`;
    const half = MAX_LOG_STREAMS / 2;
    const streams = [
      ...Array.from({ length: half }, () => connect(legacyUrl)),
      ...Array.from({ length: MAX_LOG_STREAMS - half }, () =>
        subscribe(service, `pipeline=${rkey}`),
      ),
    ];
    await Promise.all(streams.map((stream) => stream.opened));
    expect((await upgradeStatus(legacyUrl)).status).toBe(503);
    const refused = await upgradeStatus(`${service.ws}${PATH}?pipeline=${rkey}`);
    expect(refused.status).toBe(503);
    expect((JSON.parse(refused.body) as { error: string }).error).toBe("ServiceBusy");

    // A stream that ends gives its place back.
    streams[0]?.socket.close();
    await until(() => service.tack.sockets.count("logs") === MAX_LOG_STREAMS - 1, "one closed");
    const next = subscribe(service, `pipeline=${rkey}`);
    await next.opened;
    for (const stream of [...streams, next]) stream.socket.close();
  });

  test("a stream counts from the start of its handshake: 60 at once against a slow CI, 8 get in", async () => {
    const gate = Promise.withResolvers<void>();
    const opened = { count: 0 };
    const { knot, service, rkey } = await slowPipeline(gate.promise, opened);
    const urls = Array.from({ length: 60 }, (_, i) =>
      i % 2 === 0
        ? `${service.ws}/logs/${knot.host}/${rkey}/slow.yml`
        : `${service.ws}${PATH}?pipeline=${rkey}`,
    );
    const answers = urls.map((url) => upgradeStatus(url));
    // Every handshake beyond the cap is refused while the first ones still wait on the CI.
    await until(() => opened.count === MAX_LOG_STREAMS, "the CI asked for 8 logs");
    gate.resolve();
    const statuses = (await Promise.all(answers)).map((answer) => answer.status);
    expect(statuses.filter((status) => status === 101)).toHaveLength(MAX_LOG_STREAMS);
    expect(statuses.filter((status) => status === 503)).toHaveLength(60 - MAX_LOG_STREAMS);
    expect(opened.count).toBe(MAX_LOG_STREAMS);
  });
});
