/**
 * GitHub Actions run and job states → Tangled statuses (docs/github.md has the same table).
 *
 * A run's `status` says where it is; once it is `completed`, its `conclusion` says how it ended.
 * Judgment calls, chosen so that Tangled never shows green for something that did not pass and
 * never waits forever on something that will not move:
 * - `neutral` → success: the run chose to report "not a failure" (GitHub shows it grey, not red).
 * - `skipped` → cancelled: nothing ran, which is what Tangled's grey `cancelled` means.
 * - `action_required` → failed: the run waits for a human on GitHub (e.g. an approval); a
 *   completed run in that state will not go on by itself, so Tangled must not keep it pending.
 * - `stale` → failed: GitHub gave up on the run after it stayed incomplete too long.
 * - `startup_failure` → failed: the runner workflow itself is broken (bad YAML, bad inputs).
 * - a conclusion this table does not know → failed, naming it.
 * Jobs never finish a workflow: only the run's own conclusion summarises all of its jobs.
 */

import type { WorkflowStatus } from "../../pipeline/status.ts";
import type { StatusDetail } from "../../pipeline/workflows.ts";

export interface RunObservation {
  /** GitHub's `status` (requested, queued, waiting, pending, in_progress, completed). */
  status: string;
  /** GitHub's `conclusion`; null until completed. */
  conclusion: string | null;
  /** Where to look on GitHub; quoted in errors. */
  htmlUrl: string;
}

export interface MappedStatus {
  status: WorkflowStatus;
  detail: StatusDetail;
}

const WAITING = new Set(["requested", "queued", "waiting", "pending"]);

/** The Tangled status a run observation stands for, or undefined for a status GitHub may add. */
export function statusOfRun(run: RunObservation): MappedStatus | undefined {
  if (WAITING.has(run.status)) return { status: "pending", detail: {} };
  if (run.status === "in_progress") return { status: "running", detail: {} };
  if (run.status !== "completed") return undefined;
  return statusOfConclusion(run.conclusion, run.htmlUrl);
}

function statusOfConclusion(conclusion: string | null, htmlUrl: string): MappedStatus {
  const failed = (why: string): MappedStatus => ({
    status: "failed",
    detail: { error: `GitHub Actions run ${why}: ${htmlUrl}`, exitCode: 1 },
  });
  switch (conclusion) {
    case "success":
    case "neutral":
      return { status: "success", detail: {} };
    case "cancelled":
      return { status: "cancelled", detail: {} };
    case "skipped":
      return {
        status: "cancelled",
        detail: { error: `GitHub Actions skipped the run: ${htmlUrl}` },
      };
    case "timed_out":
      return { status: "timeout", detail: {} };
    case "failure":
      return failed("failed");
    case "startup_failure":
      return failed("could not start (startup_failure: check the runner workflow file)");
    case "action_required":
      return failed("needs action on GitHub (action_required, e.g. an approval)");
    case "stale":
      return failed("went stale on GitHub");
    default:
      return failed(`ended with conclusion ${JSON.stringify(conclusion)}`);
  }
}

/**
 * What a job event says about its workflow: a job that started means the workflow runs; a queued
 * or waiting one means nothing new. A completed job does not end the workflow (see above), but
 * it did run if it has steps, so it still proves `running` when the in_progress event was lost.
 */
export function statusOfJob(job: {
  status: string;
  stepCount: number;
}): WorkflowStatus | undefined {
  if (job.status === "in_progress") return "running";
  if (job.status === "completed" && job.stepCount > 0) return "running";
  return undefined;
}

/** tack's own closing states: the dispatch was refused, or the run was never found. */
export const NOT_DISPATCHED = "tack:not_dispatched";
export const LOST = "tack:lost";

/**
 * Orders the `state` kept in github_runs so a late or repeated observation never moves it back:
 * waiting states < in_progress < completed (or closed by tack). Unknown states rank lowest.
 */
export function stateRank(state: string | null): number {
  if (state === null) return -1;
  if (state.startsWith("completed") || state.startsWith("tack:")) return 2;
  if (state === "in_progress") return 1;
  if (WAITING.has(state)) return 0;
  return -1;
}

/** The `state` column's text for an observation: "queued", "completed:success", … */
export function stateOf(run: { status: string; conclusion: string | null }): string {
  return run.status === "completed" ? `completed:${run.conclusion ?? "unknown"}` : run.status;
}
