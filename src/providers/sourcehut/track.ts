/**
 * Turns one observation of a builds.sr.ht job (a poll) into the workflow's status and the job's
 * row, and tells live /logs streams to look again.
 *
 * Ordering invariant ("nothing lost, nothing twice"): the status change and the row update
 * (state and next poll) commit in one transaction. A crash loses both or neither, so the next
 * poll applies the observation exactly once.
 */
import type { Tx, Writer } from "../../db/writer.ts";
import type { Logger } from "../../log.ts";
import { isTerminal } from "../../pipeline/status.ts";
import { BuildListeners } from "../build-listeners.ts";
import type { WorkflowStore } from "../provider.ts";
import type { Observation, SourcehutJob, SourcehutJobs } from "./builds.ts";
import type { ApiJob } from "./schemas.ts";
import { statusOfJob } from "./states.ts";

export class JobTracker extends BuildListeners {
  constructor(
    private readonly deps: {
      workflows: WorkflowStore;
      writer: Writer;
      jobs: SourcehutJobs;
      log: Logger;
    },
  ) {
    super();
  }

  /** Applies a polled job with the schedule the poller chose for it. */
  async apply(row: SourcehutJob, job: ApiJob, schedule: Omit<Observation, "state">): Promise<void> {
    const mapped = statusOfJob(job, row.instance);
    const record = (tx: Tx) =>
      this.deps.jobs.observe(tx, row.correlationId, {
        ...schedule,
        state: mapped ? job.status.toLowerCase() : undefined,
      });
    if (!mapped) {
      this.deps.log.warn("sourcehut: job status tack does not know, ignored", {
        job_id: job.id,
        job_status: job.status,
      });
      await this.deps.writer.write(record);
    } else {
      // A job seen finished by its first poll did run (it has a runner): passing through
      // `running` gives the workflow a start time in Tangled.
      if (isTerminal(mapped.status) && job.runner !== null) {
        if (this.deps.workflows.get(row.workflow)?.status === "pending") {
          await this.deps.workflows.transition(row.workflow, "running");
        }
      }
      if (
        await this.deps.workflows.transition(row.workflow, mapped.status, mapped.detail, record)
      ) {
        this.deps.log.info("sourcehut: workflow status", {
          knot: row.workflow.knot,
          pipeline_rkey: row.workflow.pipelineRkey,
          workflow: row.workflow.name,
          job_id: job.id,
          status: mapped.status,
        });
      }
    }
    this.wake(row.correlationId);
  }
}
