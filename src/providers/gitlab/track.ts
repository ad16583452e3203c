/**
 * Turns one observation of a GitLab pipeline (a webhook, a poll, a create answer) into the
 * workflow's status and the pipeline's row, and tells live /logs streams to look again.
 *
 * Ordering invariant ("nothing lost, nothing twice"): the status change, the row update and a
 * webhook's delivery key commit in one transaction. A crash loses all three or none, so
 * GitLab's retry (or the reconciler) applies the observation exactly once; a delivery key
 * already recorded is refused before this is reached (webhook.ts).
 */
import type { Clock } from "../../clock.ts";
import type { Writer } from "../../db/writer.ts";
import type { Logger } from "../../log.ts";
import type { WorkflowStatus } from "../../pipeline/status.ts";
import type { StatusDetail } from "../../pipeline/workflows.ts";
import { applyObservation } from "../apply-observation.ts";
import { BuildListeners } from "../build-listeners.ts";
import type { WebhookDeliveries } from "../deliveries.ts";
import type { WorkflowStore } from "../provider.ts";
import type { GitlabPipeline, GitlabPipelines } from "./builds.ts";
import { PROVIDER } from "./config.ts";
import { type PipelineObservation, statusOfJob, statusOfPipeline } from "./states.ts";

export interface JobObservation {
  status: string;
  startedAt: string | null;
}

export class PipelineTracker extends BuildListeners {
  constructor(
    private readonly deps: {
      workflows: WorkflowStore;
      writer: Writer;
      pipelines: GitlabPipelines;
      deliveries: WebhookDeliveries;
      clock: Clock;
      log: Logger;
    },
  ) {
    super();
  }

  /**
   * Applies a pipeline-level observation. With a `deliveryId`, resolves false when that
   * delivery had already been recorded (a duplicate racing this one), true otherwise.
   */
  applyPipeline(
    row: GitlabPipeline,
    observation: PipelineObservation,
    deliveryId?: string,
  ): Promise<boolean> {
    const mapped = statusOfPipeline(observation);
    if (!mapped) {
      this.deps.log.warn("gitlab: unknown pipeline status, workflow left as is", {
        knot: row.workflow.knot,
        pipeline_rkey: row.workflow.pipelineRkey,
        workflow: row.workflow.name,
        gitlab_status: observation.status,
      });
    }
    return this.apply(row, mapped?.status, mapped?.detail ?? {}, observation.status, deliveryId);
  }

  /** Applies a job-level observation: it can only show that the workflow runs. */
  applyJob(row: GitlabPipeline, job: JobObservation, deliveryId?: string): Promise<boolean> {
    const status = statusOfJob(job);
    return this.apply(row, status, {}, status === "running" ? "running" : undefined, deliveryId);
  }

  private async apply(
    row: GitlabPipeline,
    status: WorkflowStatus | undefined,
    detail: StatusDetail,
    state: string | undefined,
    deliveryId: string | undefined,
  ): Promise<boolean> {
    const first = await applyObservation(this.deps, {
      provider: PROVIDER,
      build: row,
      rows: this.deps.pipelines,
      status,
      detail,
      state,
      deliveryId,
      logFields: { gitlab_pipeline_id: row.pipelineId },
    });
    this.wake(row.correlationId);
    return first;
  }
}
