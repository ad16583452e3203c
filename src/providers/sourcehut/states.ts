/**
 * builds.sr.ht job statuses → Tangled statuses (docs/sourcehut.md has the same table).
 *
 * | JobStatus          | Tangled     |
 * | ------------------ | ----------- |
 * | PENDING, QUEUED    | pending     |
 * | RUNNING            | running     |
 * | SUCCESS            | success     |
 * | FAILED             | failed      |  error names the failed task, exit code 1
 * | TIMEOUT            | timeout     |
 * | CANCELLED          | cancelled   |
 * | anything else      | (no change) |  logged; a newer sourcehut may add states
 *
 * Tasks never decide a workflow: the job's own status sums them up.
 */
import type { WorkflowStatus } from "../../pipeline/status.ts";
import type { StatusDetail } from "../../pipeline/workflows.ts";
import type { ApiTask } from "./schemas.ts";

export interface MappedStatus {
  status: WorkflowStatus;
  detail: StatusDetail;
}

const WAITING = new Set(["PENDING", "QUEUED"]);
const FINISHED = new Set(["SUCCESS", "FAILED", "TIMEOUT", "CANCELLED"]);

/** The Tangled status a job's status stands for, or undefined for one this table lacks. */
export function statusOfJob(
  job: { id: number; status: string; tasks: ApiTask[] },
  instance: string,
): MappedStatus | undefined {
  if (WAITING.has(job.status)) return { status: "pending", detail: {} };
  switch (job.status) {
    case "RUNNING":
      return { status: "running", detail: {} };
    case "SUCCESS":
      return { status: "success", detail: {} };
    case "TIMEOUT":
      return { status: "timeout", detail: {} };
    case "CANCELLED":
      return { status: "cancelled", detail: {} };
    case "FAILED": {
      const failed = job.tasks.find((task) => task.status === "FAILED");
      const what = failed ? `task ${failed.name} failed` : "failed";
      return {
        status: "failed",
        detail: { error: `builds.sr.ht job #${job.id} ${what} (${instance})`, exitCode: 1 },
      };
    }
    default:
      return undefined;
  }
}

export function isFinishedJob(status: string): boolean {
  return FINISHED.has(status);
}

/** tack's own closing states: sourcehut refused the submit, or the job was never found. */
export const NOT_SUBMITTED = "tack:not_submitted";
export const LOST = "tack:lost";

/**
 * Orders the `state` kept in sourcehut_jobs so a stale observation never moves it back:
 * pending/queued < running < finished (or closed by tack). Unknown states rank lowest.
 */
export function stateRank(state: string | null): number {
  if (state === null) return -1;
  if (state.startsWith("tack:") || FINISHED.has(state.toUpperCase())) return 2;
  if (state === "running") return 1;
  if (WAITING.has(state.toUpperCase())) return 0;
  return -1;
}
