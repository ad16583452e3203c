/**
 * Buildkite build state → Tangled status.
 *
 * | Buildkite                                  | Tangled   | error                      |
 * | ------------------------------------------ | --------- | -------------------------- |
 * | creating, scheduled, waiting               | pending   |                            |
 * | running, failing, canceling, waiting_failed| running   |                            |
 * | blocked (or passed with blocked: true)     | running   |                            |
 * | passed                                     | success   |                            |
 * | failed, a job timed out                    | timeout   | the job and the build URL  |
 * | failed                                     | failed    | the build URL              |
 * | canceled                                   | cancelled | the reason, the build URL  |
 * | skipped, not_run                           | cancelled | why Buildkite did not run  |
 *
 * `failing` and `waiting_failed` are doomed but unfinished: the status waits for the build to
 * end. A build waiting on a block step keeps `state: passed` with `blocked: true`; it is not
 * finished, so it stays running. Webhook payloads carry no jobs, so a timeout is only seen on
 * a build read from the API (which every terminal webhook is confirmed against).
 */

import type { WorkflowStatus } from "../../pipeline/status.ts";
import type { StatusDetail } from "../../pipeline/workflows.ts";
import type { BuildkiteBuild } from "./schemas.ts";

export interface Observation {
  status: WorkflowStatus;
  detail: StatusDetail;
}

const PENDING = new Set(["creating", "scheduled", "waiting"]);
const RUNNING = new Set(["running", "failing", "canceling", "waiting_failed", "blocked"]);
const FINISHED = new Set(["passed", "failed", "canceled", "skipped", "not_run"]);
const TIMED_OUT_JOB = new Set(["timed_out", "timing_out"]);

/** The state that matters: a build paused on a block step is not finished, whatever it says. */
export function effectiveState(build: BuildkiteBuild): string {
  if (build.blocked === true && (build.state === "passed" || build.state === "blocked")) {
    return "blocked";
  }
  return build.state;
}

/** True for states after which Buildkite does nothing more with the build. */
export function isFinishedState(state: string | null): boolean {
  return state !== null && FINISHED.has(state);
}

/** 0 before running, 1 running, 2 finished; stored states never move back (out-of-order). */
export function stateRank(state: string | null): number {
  if (state === null) return -1;
  if (FINISHED.has(state)) return 2;
  if (RUNNING.has(state)) return 1;
  return 0;
}

/** The Tangled status a build is in, or undefined for a state tack does not know. */
export function observe(build: BuildkiteBuild): Observation | undefined {
  const state = effectiveState(build);
  if (PENDING.has(state)) return { status: "pending", detail: {} };
  if (RUNNING.has(state)) return { status: "running", detail: {} };
  const where = build.web_url ? `: ${build.web_url}` : "";
  const name = `Buildkite build #${build.number}`;
  switch (state) {
    case "passed":
      return { status: "success", detail: {} };
    case "failed": {
      const timedOut = build.jobs?.find((job) => TIMED_OUT_JOB.has(job.state ?? ""));
      if (timedOut) {
        const job = timedOut.name ?? timedOut.label ?? timedOut.step_key ?? timedOut.id;
        return { status: "timeout", detail: { error: `${name}: job "${job}" timed out${where}` } };
      }
      const exitCode = build.jobs?.find(
        (job) => job.state === "failed" && typeof job.exit_status === "number",
      )?.exit_status;
      return {
        status: "failed",
        detail: {
          error: `${name} failed${where}`,
          ...(typeof exitCode === "number" ? { exitCode } : {}),
        },
      };
    }
    case "canceled": {
      const reason = build.cancel_reason ? ` (${build.cancel_reason})` : "";
      return { status: "cancelled", detail: { error: `${name} was canceled${reason}${where}` } };
    }
    case "skipped":
      return {
        status: "cancelled",
        detail: { error: `${name} was skipped by Buildkite (a newer build superseded it)${where}` },
      };
    case "not_run":
      return {
        status: "cancelled",
        detail: { error: `${name} did not run: Buildkite skipped every step${where}` },
      };
    default:
      return undefined;
  }
}
