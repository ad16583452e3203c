/**
 * The fake provider: runs nothing and needs no account, so a newcomer (and every test) can see
 * a workflow walk through Tangled's states. `tack: { fake: {} }` goes pending → running →
 * success; `tack: { fake: { result: failed } }` (or timeout, cancelled) ends there instead.
 * Its log is a fixed script of `steps` steps, revealed as the run advances; a running run's
 * /logs stream follows it to the end.
 */
import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { Clock } from "../../clock.ts";
import type { Logger } from "../../log.ts";
import { isTerminal, type WorkflowStatus } from "../../pipeline/status.ts";
import type { StoredWorkflow, WorkflowId } from "../../pipeline/workflows.ts";
import { pause } from "../pause.ts";
import {
  controlLine,
  dataLine,
  type LogLine,
  type Provider,
  type ProviderDescriptor,
  type WorkflowStore,
} from "../provider.ts";

export const FakeOptions = Type.Object(
  {
    result: Type.Optional(
      Type.Union([
        Type.Literal("success"),
        Type.Literal("failed"),
        Type.Literal("timeout"),
        Type.Literal("cancelled"),
      ]),
    ),
    steps: Type.Optional(Type.Integer({ minimum: 1, maximum: 20 })),
  },
  { additionalProperties: false },
);
export type FakeOptions = Static<typeof FakeOptions>;

/** How often a live /logs stream looks at the workflow's status again. */
const FOLLOW_INTERVAL_MS = 100;

/** Always on: no account, no variables. */
export const fake = {
  name: "fake",
  title: "the fake CI",
  docs: "README.md",
  env: {},
  configure: () => ({}),
  create: (_config, deps) => createFakeProvider(deps),
} satisfies ProviderDescriptor<"fake", Record<string, never>>;

export function createFakeProvider(deps: {
  workflows: WorkflowStore;
  log: Logger;
  clock: Clock;
}): Provider {
  const log = deps.log;
  const running = new Set<Promise<void>>();
  // Workflows whose run was cancelled: their drive stops at its next step.
  const cancelled = new Set<string>();
  let stopped = false;
  const halted = (id: WorkflowId) => stopped || cancelled.has(keyOf(id));

  const drive = (workflow: StoredWorkflow) => {
    const options = optionsOf(workflow);
    const task = (async () => {
      // Each transition waits for the next whole second inside Workflows (docs/design.md, *One
      // status per second per workflow*).
      if (halted(workflow.id)) return;
      await deps.workflows.transition(workflow.id, "running");
      if (halted(workflow.id)) return;
      const result = options.result ?? "success";
      await deps.workflows.transition(
        workflow.id,
        result,
        result === "failed" ? { error: "fake workflow failed as configured", exitCode: 1 } : {},
      );
    })().catch((error: unknown) => {
      log.error("fake: run failed", { err: error, workflow: workflow.id.name });
    });
    running.add(task);
    void task.finally(() => running.delete(task));
  };

  return {
    name: "fake",
    checkOptions(options) {
      if (options === null || options === undefined) return undefined;
      const error = Value.Errors(FakeOptions, options).First();
      if (!error) return undefined;
      const where = error.path ? `tack.fake${error.path.replaceAll("/", ".")}` : "tack.fake";
      return `${where}: ${error.message}`;
    },
    async spawn(workflow) {
      drive(workflow);
    },
    async logs(workflow, signal) {
      return followLog(workflow, deps, signal);
    },
    async cancel(workflow) {
      // Nothing runs anywhere: stopping the drive is the whole cancel (the core publishes it).
      cancelled.add(keyOf(workflow.id));
    },
    async resume(workflows) {
      for (const workflow of workflows) drive(workflow);
    },
    async stop() {
      stopped = true;
      await Promise.all(running);
    },
  };
}

function keyOf(id: WorkflowId): string {
  return `${id.knot}\u0000${id.pipelineRkey}\u0000${id.name}`;
}

function optionsOf(workflow: StoredWorkflow): FakeOptions {
  return Value.Check(FakeOptions, workflow.options) ? workflow.options : {};
}

/** The full script of a run: every line it will ever print, by the status that reveals it. */
function script(workflow: StoredWorkflow): { line: LogLine; shownAt: WorkflowStatus }[] {
  const options = optionsOf(workflow);
  const steps = options.steps ?? 2;
  const result = options.result ?? "success";
  const lines: { line: LogLine; shownAt: WorkflowStatus }[] = [];
  for (let step = 0; step < steps; step++) {
    const name = `fake step ${step + 1}`;
    const last = step === steps - 1;
    lines.push({
      line: controlLine(step, "start", name, `echo step ${step + 1}`),
      shownAt: "running",
    });
    lines.push({ line: dataLine(step, `step ${step + 1} of ${steps}`), shownAt: "running" });
    if (last && result !== "success") {
      lines.push({ line: dataLine(step, `finished: ${result}`, "stderr"), shownAt: result });
    }
    lines.push({
      line: controlLine(step, "end", name, `echo step ${step + 1}`),
      shownAt: last ? result : "running",
    });
  }
  return lines;
}

async function* followLog(
  initial: StoredWorkflow,
  deps: { workflows: WorkflowStore; clock: Clock },
  signal: AbortSignal,
): AsyncGenerator<LogLine> {
  const lines = script(initial);
  let sent = 0;
  let workflow: StoredWorkflow | undefined = initial;
  while (workflow && !signal.aborted) {
    const visible = visibleAt(workflow.status);
    while (sent < lines.length && visible.has(lines[sent]?.shownAt ?? "pending")) {
      const next = lines[sent++];
      if (next) yield next.line;
    }
    if (isTerminal(workflow.status)) return;
    await pause(deps.clock, FOLLOW_INTERVAL_MS, signal);
    workflow = deps.workflows.get(initial.id);
  }
}

/** Statuses whose lines are visible once the run has reached `status`. */
function visibleAt(status: WorkflowStatus): Set<WorkflowStatus> {
  if (status === "pending") return new Set();
  if (status === "running") return new Set(["running"]);
  return new Set(["running", status]);
}
