import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { silentLogger } from "../../src/log.ts";
import { dispatchWorkflow } from "../../src/pipeline/dispatch.ts";
import { openWorkflowLogs } from "../../src/pipeline/logs.ts";
import { isTerminal } from "../../src/pipeline/status.ts";
import type { WorkflowId, Workflows } from "../../src/pipeline/workflows.ts";
import { createFakeProvider } from "../../src/providers/fake/index.ts";
import { LogLine } from "../../src/providers/provider.ts";
import { ProviderRegistry } from "../../src/providers/registry.ts";
import { fastClock } from "../helpers/clock.ts";
import { fakeClock, memoryTack, statuses } from "../helpers/memory.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

function setup(clock = fakeClock(1_800_000_000_000).clock) {
  const tack = memoryTack(clock);
  const fake = createFakeProvider({ workflows: tack.workflows, log: silentLogger, clock });
  const providers = new ProviderRegistry([fake]);
  const deps = { workflows: tack.workflows, providers, log: silentLogger };
  return { ...tack, fake, providers, deps };
}

let counter = 0;
function newId(): WorkflowId {
  counter++;
  return {
    knot: "knot.test",
    pipelineRkey: `3m6mxh2znw2${String(counter).padStart(2, "2")}`,
    name: "ci.yml",
  };
}

async function settled(workflows: Workflows, id: WorkflowId): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!isTerminal(workflows.get(id)?.status ?? "pending")) {
    if (Date.now() > deadline) throw new Error("workflow did not finish");
    await Bun.sleep(2);
  }
}

async function collect(lines: AsyncIterable<LogLine>): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for await (const line of lines) out.push(line);
  return out;
}

describe("fake provider", () => {
  test("goes pending → running → success on strictly increasing whole seconds", async () => {
    const { deps, workflows, store } = setup();
    const id = newId();
    expect(await dispatchWorkflow(deps, { id, provider: "fake", options: {}, context: {} })).toBe(
      "spawned",
    );
    await settled(workflows, id);
    const records = statuses(store);
    expect(records.map((r) => r.status)).toEqual(["pending", "running", "success"]);
    const seconds = records.map((r) => Date.parse(String(r.createdAt)));
    expect(seconds[0]).toBeLessThan(seconds[1] ?? 0);
    expect(seconds[1]).toBeLessThan(seconds[2] ?? 0);
    for (const r of records)
      expect(String(r.createdAt)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  test("`result: failed` ends failed with an error and exit code", async () => {
    const { deps, workflows, store } = setup();
    const id = newId();
    await dispatchWorkflow(deps, {
      id,
      provider: "fake",
      options: { result: "failed" },
      context: {},
    });
    await settled(workflows, id);
    expect(statuses(store).map((r) => r.status)).toEqual(["pending", "running", "failed"]);
    expect(statuses(store).at(-1)).toMatchObject({
      error: "fake workflow failed as configured",
      exitCode: 1,
    });
  });

  test("its log is valid LogLines: start, data, end per step", async () => {
    const { deps, workflows, providers } = setup();
    const id = newId();
    await dispatchWorkflow(deps, { id, provider: "fake", options: { steps: 3 }, context: {} });
    await settled(workflows, id);
    const lines = await collect(
      await openWorkflowLogs({ workflows, providers }, id, new AbortController().signal),
    );
    expect(lines).toHaveLength(9);
    for (const line of lines) expect(Value.Check(LogLine, line)).toBe(true);
    expect(lines.map((l) => `${l.kind}:${l.step_id}:${l.step_status ?? l.stream}`)).toEqual([
      "control:0:start",
      "data:0:stdout",
      "control:0:end",
      "control:1:start",
      "data:1:stdout",
      "control:1:end",
      "control:2:start",
      "data:2:stdout",
      "control:2:end",
    ]);
    expect(lines[0]).toMatchObject({
      content: "fake step 1",
      step_kind: 1,
      step_command: "echo step 1",
    });
  });

  test("bad options fail the workflow with a message that /logs repeats", async () => {
    const { deps, workflows, providers, store } = setup();
    const id = newId();
    expect(
      await dispatchWorkflow(deps, {
        id,
        provider: "fake",
        options: { result: "maybe" },
        context: {},
      }),
    ).toBe("rejected");
    const [record] = statuses(store);
    expect(record).toMatchObject({ status: "failed", exitCode: -1 });
    expect(String(record?.error)).toStartWith("tack.fake.result:");
    const lines = await collect(
      await openWorkflowLogs({ workflows, providers }, id, new AbortController().signal),
    );
    expect(lines.map((l) => l.content)).toEqual(["", String(record?.error)]);
  });

  test("an unknown provider fails the workflow naming it", async () => {
    const { deps, store } = setup();
    const id = newId();
    expect(
      await dispatchWorkflow(deps, { id, provider: "jenkins", options: {}, context: {} }),
    ).toBe("rejected");
    expect(String(statuses(store)[0]?.error)).toBe(
      'unknown provider "jenkins": this spindle runs "fake"',
    );
  });

  test("a repeated dispatch is a duplicate and emits nothing", async () => {
    const { deps, workflows, store } = setup();
    const id = newId();
    await dispatchWorkflow(deps, { id, provider: "fake", options: {}, context: {} });
    expect(await dispatchWorkflow(deps, { id, provider: "fake", options: {}, context: {} })).toBe(
      "duplicate",
    );
    await settled(workflows, id);
    expect(statuses(store)).toHaveLength(3);
  });

  test("resume finishes a workflow left running by a previous process", async () => {
    const { workflows, fake, store } = setup();
    const id = newId();
    await workflows.create(id, { provider: "fake", options: {}, context: {} }, "pending");
    await workflows.transition(id, "running");
    await fake.resume(workflows.unfinished("fake"));
    await settled(workflows, id);
    expect(statuses(store).map((r) => r.status)).toEqual(["pending", "running", "success"]);
  });

  test("cancel stops the run and publishes nothing: the core's one cancelled is the end", async () => {
    // Time stands still until released, so the run is caught between two of its steps.
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const base = fakeClock(1_800_000_000_000);
    const { deps, workflows, fake, store } = setup({
      now: base.clock.now,
      sleep: async (ms) => {
        await gate;
        await base.clock.sleep(ms);
      },
    });
    const id = newId();
    await dispatchWorkflow(deps, { id, provider: "fake", options: {}, context: {} });
    const workflow = workflows.get(id);
    if (!workflow) throw new Error("no workflow");
    await fake.cancel(workflow);
    expect(statuses(store).map((r) => r.status)).toEqual(["pending"]);
    const cancelled = workflows.transition(id, "cancelled", {
      error: "User canceled the workflow",
    });
    release();
    await cancelled;
    await fake.stop();
    expect(statuses(store).map((r) => r.status)).toEqual(["pending", "running", "cancelled"]);
  });

  test("a live log follows the run until it finishes (a clock running on its own)", async () => {
    const { deps, workflows, providers } = setup(fastClock());
    const id = newId();
    await dispatchWorkflow(deps, { id, provider: "fake", options: {}, context: {} });
    // Opened while pending: nothing yet, then lines as the run advances, then the end.
    const lines = await collect(
      await openWorkflowLogs({ workflows, providers }, id, new AbortController().signal),
    );
    expect(workflows.get(id)?.status).toBe("success");
    expect(lines.at(-1)).toMatchObject({ kind: "control", step_status: "end", step_id: 1 });
    expect(lines).toHaveLength(6);
  });
});
