/**
 * Turns one observation of a GitHub run (a webhook or a poll) into the workflow's status and the
 * run's row, in that order, and tells live /logs streams to look again.
 *
 * Ordering invariant ("nothing lost"): the workflow transition commits first, then the row
 * update, and a webhook's delivery id is recorded in that same second transaction. A crash in
 * between leaves the delivery unrecorded, so GitHub's redelivery (or the reconciler) applies it
 * again; re-applying is harmless because transitions are idempotent and forward-only.
 */
import type { Clock } from "../../clock.ts";
import type { Writer } from "../../db/writer.ts";
import type { Logger } from "../../log.ts";
import type { Workflows } from "../../pipeline/workflows.ts";
import type { WebhookDeliveries } from "../deliveries.ts";
import type { GithubRun, GithubRuns } from "./runs.ts";
import { type RunObservation, stateOf, statusOfJob, statusOfRun } from "./states.ts";

export interface JobObservation {
  status: string;
  stepCount: number;
}

export class RunProgress {
  private readonly listeners = new Map<string, Set<() => void>>();

  constructor(
    private readonly deps: {
      workflows: Workflows;
      writer: Writer;
      runs: GithubRuns;
      deliveries: WebhookDeliveries;
      clock: Clock;
      log: Logger;
    },
  ) {}

  /**
   * Applies a run-level observation. With a `deliveryId`, resolves false when that delivery
   * had already been recorded (a duplicate), true otherwise.
   */
  async applyRun(
    run: GithubRun,
    observation: RunObservation,
    deliveryId?: string,
  ): Promise<boolean> {
    const mapped = statusOfRun(observation);
    if (mapped) {
      const moved = await this.deps.workflows.transition(
        run.workflow,
        mapped.status,
        mapped.detail,
      );
      if (moved) this.logMove(run, mapped.status);
    }
    return this.record(run, stateOf(observation), deliveryId);
  }

  /** Applies a job-level observation: it can only show that the workflow runs. */
  async applyJob(run: GithubRun, job: JobObservation, deliveryId?: string): Promise<boolean> {
    const status = statusOfJob(job);
    if (status) {
      const moved = await this.deps.workflows.transition(run.workflow, status);
      if (moved) this.logMove(run, status);
    }
    return this.record(run, status === "running" ? "in_progress" : undefined, deliveryId);
  }

  /** Calls `listener` after anything is applied to the run; returns the unsubscribe. */
  subscribe(correlationId: string, listener: () => void): () => void {
    const set = this.listeners.get(correlationId) ?? new Set();
    set.add(listener);
    this.listeners.set(correlationId, set);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(correlationId);
    };
  }

  /** Tells the run's listeners to look again (e.g. after its run id became known). */
  wake(correlationId: string): void {
    for (const listener of this.listeners.get(correlationId) ?? []) listener();
  }

  private async record(
    run: GithubRun,
    state: string | undefined,
    deliveryId: string | undefined,
  ): Promise<boolean> {
    const now = this.deps.clock.now();
    const first = await this.deps.writer.write((tx) => {
      this.deps.runs.observe(tx, run.correlationId, state, now);
      return deliveryId === undefined
        ? true
        : this.deps.deliveries.firstSeen(tx, "github", deliveryId, now);
    });
    this.wake(run.correlationId);
    return first;
  }

  private logMove(run: GithubRun, status: string): void {
    this.deps.log.info("github: workflow status", {
      knot: run.workflow.knot,
      pipeline_rkey: run.workflow.pipelineRkey,
      workflow: run.workflow.name,
      run_id: run.runId,
      status,
    });
  }
}
