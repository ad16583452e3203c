/**
 * Turns one observation of a GitHub run (a webhook or a poll) into the workflow's status and the
 * run's row, and tells live /logs streams to look again.
 *
 * Ordering invariant ("nothing lost, nothing twice"): the status change, the row update and a
 * webhook's delivery id commit in one transaction. A crash loses all three or none, so GitHub's
 * redelivery (or the reconciler) applies the observation exactly once; a delivery id already
 * recorded is refused before this is reached (webhook.ts).
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
import type { GithubRun, GithubRuns } from "./builds.ts";
import { PROVIDER } from "./config.ts";
import { type RunObservation, stateOf, statusOfJob, statusOfRun } from "./states.ts";

export interface JobObservation {
  status: string;
  stepCount: number;
}

export class RunTracker extends BuildListeners {
  constructor(
    private readonly deps: {
      workflows: WorkflowStore;
      writer: Writer;
      runs: GithubRuns;
      deliveries: WebhookDeliveries;
      clock: Clock;
      log: Logger;
    },
  ) {
    super();
  }

  /**
   * Applies a run-level observation. With a `deliveryId`, resolves false when that delivery
   * had already been recorded (a duplicate racing this one), true otherwise.
   */
  applyRun(run: GithubRun, observation: RunObservation, deliveryId?: string): Promise<boolean> {
    const mapped = statusOfRun(observation);
    return this.apply(run, mapped?.status, mapped?.detail ?? {}, stateOf(observation), deliveryId);
  }

  /** Applies a job-level observation: it can only show that the workflow runs. */
  applyJob(run: GithubRun, job: JobObservation, deliveryId?: string): Promise<boolean> {
    const status = statusOfJob(job);
    return this.apply(
      run,
      status,
      {},
      status === "running" ? "in_progress" : undefined,
      deliveryId,
    );
  }

  private async apply(
    run: GithubRun,
    status: WorkflowStatus | undefined,
    detail: StatusDetail,
    state: string | undefined,
    deliveryId: string | undefined,
  ): Promise<boolean> {
    const first = await applyObservation(this.deps, {
      provider: PROVIDER,
      build: run,
      rows: this.deps.runs,
      status,
      detail,
      state,
      deliveryId,
      logFields: { run_id: run.runId },
    });
    this.wake(run.correlationId);
    return first;
  }
}
