/**
 * Stops a workflow's builds.sr.ht job and resolves once sourcehut accepted, or the job had
 * already finished, or there is none. No status is published here: the core publishes
 * `cancelled` itself, and statuses only move forward.
 *
 * builds.sr.ht cancels only a *running* job (`cancel` refuses a queued one). So a job that is
 * still queued is marked in sourcehut_jobs (durably: a restart keeps the intent) and the
 * poller watches it closely and cancels it the moment it starts. A job whose id is not known
 * yet (its submit is under way or its answer was lost) is marked the same way, and is searched
 * for until sourcehut's list delay has passed.
 */
import type { Clock } from "../../clock.ts";
import type { StoredWorkflow } from "../../pipeline/workflows.ts";
import { ApiError } from "../http-client.ts";
import { CancelError } from "../provider.ts";
import { findWithin } from "../spawn-once.ts";
import type { SourcehutJobs } from "./builds.ts";
import { type SourcehutClient, TOKEN_HINT } from "./client.ts";
import { PROVIDER } from "./config.ts";
import type { Poller } from "./reconcile.ts";
import type { JobSubmitter } from "./spawn.ts";
import { isFinishedJob, stateRank } from "./states.ts";
import type { SourcehutTuning } from "./tuning.ts";

export async function cancelJob(
  deps: {
    clients: Map<string, SourcehutClient>;
    jobs: SourcehutJobs;
    submitter: JobSubmitter;
    poller: Poller;
    clock: Clock;
    tuning: SourcehutTuning;
  },
  workflow: StoredWorkflow,
): Promise<void> {
  const { jobs } = deps;
  let row = jobs.latestFor(workflow.id);
  if (!row || stateRank(row.state) >= 2) return;
  if (row.jobId === null && !deps.submitter.inFlight(row.correlationId)) {
    const open = row;
    try {
      // sourcehut lists a new job at once, but give a just-lost submit its moment.
      const id = await findWithin(() => deps.submitter.find(open), {
        clock: deps.clock,
        deadline: open.createdAt + deps.tuning.listDelayMs,
        backoffMs: deps.tuning.http.backoffMs,
      });
      if (id !== undefined) await jobs.link(open.correlationId, id, deps.tuning.minPollMs);
      row = jobs.byCorrelationId(open.correlationId) ?? open;
    } catch (error) {
      throw cancelError(`the builds.sr.ht job of ${workflow.id.name}`, error);
    }
  }
  if (row.jobId === null) {
    // Whatever turns up later (a submit finishing, a search) is cancelled once it runs.
    await jobs.requestCancel(row.correlationId);
    deps.poller.wake();
    return;
  }
  const jobId = row.jobId;
  const client = deps.clients.get(row.instance);
  if (!client)
    throw cancelError(
      `builds.sr.ht job #${jobId}`,
      new Error(`${row.instance} is no longer configured`),
    );
  const what = `builds.sr.ht job #${jobId}`;
  try {
    const job = (await client.jobs([jobId])).get(jobId);
    if (!job || isFinishedJob(job.status)) return;
    if (job.status === "RUNNING") {
      try {
        await client.cancel(jobId);
        return;
      } catch (error) {
        // Refused: it stopped running between the look and the cancel. Look again.
        if (!(error instanceof ApiError) || error.kind !== "refused" || error.status === 403)
          throw error;
        const again = (await client.jobs([jobId])).get(jobId);
        if (!again || isFinishedJob(again.status)) return;
        if (again.status === "RUNNING") throw error;
      }
    }
  } catch (error) {
    throw cancelError(what, error);
  }
  // Queued: sourcehut cannot cancel it yet; the poller does once it starts.
  await jobs.requestCancel(row.correlationId);
  await deps.poller.pollNow(row);
}

function cancelError(what: string, error: unknown): CancelError {
  return CancelError.of(PROVIDER, what, error, TOKEN_HINT);
}
