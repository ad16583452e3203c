/**
 * What a CI provider is to tack. The core knows only this file and the registry; nothing
 * provider-specific leaks out of providers/<name>/.
 *
 * Lifecycle of one workflow routed to a provider: the pipeline layer validates the options
 * with `checkOptions`, emits `pending`, then calls `spawn`. From then on the provider reports
 * progress through `Workflows.transition` (forward-only, whole-second spaced), serves `/logs`
 * through `logs`, and stops the build on `cancel`. After a restart `resume` receives the
 * provider's unfinished workflows so none is left `running` forever.
 */
import { type Static, Type } from "@sinclair/typebox";
import type { StoredWorkflow } from "../pipeline/workflows.ts";

export interface Provider {
  /** The key under `tack:` in workflow YAML that routes to this provider. */
  readonly name: string;
  /** Returns what is wrong with the `tack.<name>` block, or undefined when it is usable. */
  checkOptions(options: unknown): string | undefined;
  /** Starts the build. Resolves once the CI accepted it; progress is reported asynchronously. */
  spawn(workflow: StoredWorkflow): Promise<void>;
  /**
   * Opens the workflow's log stream. Throws LogsNotFoundError when there is nothing to show;
   * any other throw is a provider failure. Called before the WebSocket upgrade, so both become
   * real HTTP statuses. The iterator ends when the log is complete or `signal` aborts.
   */
  logs(workflow: StoredWorkflow, signal: AbortSignal): Promise<AsyncIterable<LogLine>>;
  cancel(workflow: StoredWorkflow): Promise<void>;
  /** Picks up workflows that were still running when tack last stopped. */
  resume(workflows: StoredWorkflow[]): Promise<void>;
  /** Stops background work (timers, polls) at shutdown. */
  stop(): Promise<void>;
}

export class LogsNotFoundError extends Error {}

/**
 * One log frame in the upstream spindle's format (tangled-protocol.md §1.2). Field order and
 * omission rules follow Go's struct: `stream` only on data lines; `step_status`, `step_kind`,
 * `step_command` only on control lines, and `step_kind` 0 (system step) is omitted.
 */
export const LogLine = Type.Object({
  kind: Type.Union([Type.Literal("data"), Type.Literal("control")]),
  content: Type.String(),
  time: Type.String(),
  step_id: Type.Integer({ minimum: 0 }),
  stream: Type.Optional(Type.Union([Type.Literal("stdout"), Type.Literal("stderr")])),
  step_status: Type.Optional(Type.Union([Type.Literal("start"), Type.Literal("end")])),
  step_kind: Type.Optional(Type.Integer({ minimum: 1 })),
  step_command: Type.Optional(Type.String()),
});
export type LogLine = Static<typeof LogLine>;

/** RFC 3339 with trailing fractional zeros dropped, as Go prints time.Time. */
export function logTime(date: Date = new Date()): string {
  return date.toISOString().replace(/\.?0+Z$/, "Z");
}

export function controlLine(
  stepId: number,
  status: "start" | "end",
  name: string,
  command?: string,
  time: Date = new Date(),
): LogLine {
  const line: LogLine = {
    kind: "control",
    content: name,
    time: logTime(time),
    step_id: stepId,
    step_status: status,
    step_kind: 1,
  };
  if (command) line.step_command = command;
  return line;
}

export function dataLine(
  stepId: number,
  content: string,
  stream: "stdout" | "stderr" = "stdout",
  time: Date = new Date(),
): LogLine {
  return { kind: "data", content, time: logTime(time), step_id: stepId, stream };
}
