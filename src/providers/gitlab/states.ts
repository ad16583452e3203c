/**
 * GitLab pipeline and job statuses → Tangled statuses (docs/gitlab.md has the same table).
 *
 * A pipeline's `status` summarises its jobs. Judgment calls, chosen so that Tangled never shows
 * green for something that did not pass and never shows a finish that did not happen:
 * - `manual` → pending: the pipeline waits on a blocking manual job, a person must act in GitLab.
 * - `canceling` → running: jobs are still stopping; `canceled` follows.
 * - `skipped` → cancelled: nothing ran, which is what Tangled's grey `cancelled` means.
 * - `failed` → timeout when a job failed for a timeout reason (its own time limit, or GitLab
 *   giving up on a stuck or silent job), else failed.
 * - a status this table does not know → no change (GitLab adds statuses now and then; the next
 *   known one moves the workflow).
 * Jobs never finish a workflow: only the pipeline's status summarises all of its jobs.
 */
import type { WorkflowStatus } from "../../pipeline/status.ts";
import type { StatusDetail } from "../../pipeline/workflows.ts";

export interface JobSummary {
  name: string;
  status: string;
  failureReason: string | null;
}

export interface PipelineObservation {
  /** GitLab's pipeline `status`. */
  status: string;
  /** The pipeline's page; quoted in errors. */
  webUrl: string;
  /** Its jobs, when the observation carries them (a webhook's builds, a poll's job list). */
  jobs?: JobSummary[];
}

export interface MappedStatus {
  status: WorkflowStatus;
  detail: StatusDetail;
}

const PENDING = new Set([
  "created",
  "waiting_for_resource",
  "preparing",
  "pending",
  "scheduled",
  "waiting_for_callback",
  "manual",
]);
const RUNNING = new Set(["running", "canceling"]);
const FINISHED = new Set(["success", "failed", "canceled", "skipped"]);

/**
 * Job failure reasons that mean "took too long": the job's own timeout, and GitLab giving up on
 * a job that was stuck waiting for a runner or stopped reporting (19.0 split the old
 * `stuck_or_timeout_failure` into the specific ones).
 */
export const TIMEOUT_REASONS = new Set([
  "job_execution_timeout",
  "stuck_or_timeout_failure",
  "stuck_pending_with_matching_runners",
  "stuck_pending_no_matching_runners",
  "no_updates_running",
  "no_updates_canceling",
  "server_timeout_running",
  "server_timeout_canceling",
]);

/** The Tangled status a pipeline observation stands for, or undefined for an unknown status. */
export function statusOfPipeline(pipeline: PipelineObservation): MappedStatus | undefined {
  if (PENDING.has(pipeline.status)) return { status: "pending", detail: {} };
  if (RUNNING.has(pipeline.status)) return { status: "running", detail: {} };
  switch (pipeline.status) {
    case "success":
      return { status: "success", detail: {} };
    case "canceled":
      return { status: "cancelled", detail: {} };
    case "skipped":
      return {
        status: "cancelled",
        detail: { error: `GitLab skipped the pipeline (no job ran): ${pipeline.webUrl}` },
      };
    case "failed": {
      const failed = (pipeline.jobs ?? []).filter((job) => job.status === "failed");
      const timedOut = failed.find((job) => TIMEOUT_REASONS.has(job.failureReason ?? ""));
      if (timedOut) {
        return {
          status: "timeout",
          detail: {
            error: `GitLab job "${timedOut.name}" timed out (${timedOut.failureReason}): ${pipeline.webUrl}`,
          },
        };
      }
      const first = failed[0];
      const which = first
        ? `: job "${first.name}" failed${first.failureReason ? ` (${first.failureReason})` : ""}`
        : "";
      return {
        status: "failed",
        detail: { error: `GitLab pipeline failed${which}: ${pipeline.webUrl}`, exitCode: 1 },
      };
    }
    default:
      return undefined;
  }
}

const JOB_RAN = new Set(["running", "success", "failed", "canceling", "canceled"]);

/**
 * What a job observation says about its workflow: a job that runs, or has run, means the
 * workflow runs. A finished job does not end the workflow (only the pipeline's status does).
 */
export function statusOfJob(job: {
  status: string;
  startedAt: string | null;
}): WorkflowStatus | undefined {
  if (job.status === "running") return "running";
  if (JOB_RAN.has(job.status) && job.startedAt !== null) return "running";
  return undefined;
}

/** tack's own closing states: the create was refused, or the pipeline was never found. */
export const NOT_CREATED = "tack:not_created";
export const LOST = "tack:lost";

/** True for statuses after which GitLab does nothing more with the pipeline. */
export function isFinishedState(state: string | null): boolean {
  return state !== null && (FINISHED.has(state) || state.startsWith("tack:"));
}

/**
 * Orders the `state` kept in gitlab_pipelines so a late or repeated observation never moves it
 * back: waiting statuses < running < finished (or closed by tack). Unknown statuses rank lowest.
 */
export function stateRank(state: string | null): number {
  if (state === null) return -1;
  if (isFinishedState(state)) return 2;
  if (RUNNING.has(state)) return 1;
  if (PENDING.has(state)) return 0;
  return -1;
}

/** Job statuses that have not started yet (nothing to show in the log). */
export const JOB_WAITING = new Set([
  "created",
  "pending",
  "preparing",
  "waiting_for_resource",
  "manual",
  "scheduled",
]);

/** Job statuses after which the job's trace is complete. */
export const JOB_FINISHED = new Set(["success", "failed", "canceled", "skipped"]);
