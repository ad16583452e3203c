/**
 * Polls GitLab for pipelines that webhooks may have missed. GitLab retries a failed delivery
 * only a few times and disables a webhook that keeps failing, and tack may have been down when
 * one was sent, so webhooks are hints and this is the backstop: at start (`resume`: every open
 * pipeline at once) and every `reconcileIntervalMs` (pipelines not heard from for
 * `staleAfterMs`, and created pipelines whose id is still unknown).
 *
 * It spends the token's budget carefully: no pass while GitLab asked us to wait, or while fewer
 * than `reserveRequests` remain in the window (creates come first).
 */
import type { Clock } from "../../clock.ts";
import type { Logger } from "../../log.ts";
import { ApiError } from "../http-client.ts";
import type { WorkflowStore } from "../provider.ts";
import { SerialPasses } from "../serial-passes.ts";
import { type GitlabPipeline, type GitlabPipelines, pipelineLogFields } from "./builds.ts";
import type { GitlabClient } from "./client.ts";
import type { PipelineCreator } from "./spawn.ts";
import { LOST } from "./states.ts";
import type { PipelineTracker } from "./track.ts";
import type { GitlabTuning } from "./tuning.ts";

export class Reconciler {
  private readonly passes: SerialPasses;

  constructor(
    private readonly deps: {
      client: GitlabClient;
      pipelines: GitlabPipelines;
      creator: PipelineCreator;
      tracker: PipelineTracker;
      workflows: WorkflowStore;
      log: Logger;
      clock: Clock;
      tuning: GitlabTuning;
      signal: AbortSignal;
    },
  ) {
    this.passes = new SerialPasses({
      clock: deps.clock,
      log: deps.log,
      signal: deps.signal,
      failed: "gitlab reconcile: pass failed",
    });
  }

  /** Starts the periodic passes; they end when the signal aborts. */
  start(): void {
    this.passes.every(this.deps.tuning.reconcileIntervalMs, () => this.run(false));
  }

  /** Queues one pass (never two at once); `everything` polls pipelines heard from recently too. */
  pass(everything: boolean): Promise<void> {
    return this.passes.queue(() => this.run(everything));
  }

  /** Resolves once the loop and any queued pass have finished (after the signal aborted). */
  stopped(): Promise<void> {
    return this.passes.stopped();
  }

  private async run(everything: boolean): Promise<void> {
    const { client, clock, tuning } = this.deps;
    for (const row of this.deps.pipelines.open()) {
      if (this.deps.signal.aborted) return;
      if (client.lowOnBudget(tuning.reserveRequests)) {
        this.deps.log.debug("gitlab reconcile: paused to keep the rate-limit reserve", {
          remaining: client.budget().remaining,
        });
        return;
      }
      try {
        await this.reconcile(row, everything, clock.now());
      } catch (error) {
        this.deps.log.warn("gitlab reconcile: poll failed", {
          err: error,
          ...pipelineLogFields(row),
        });
        if (error instanceof ApiError && error.kind === "rate-limited") return;
      }
    }
  }

  private async reconcile(row: GitlabPipeline, everything: boolean, now: number): Promise<void> {
    const workflow = this.deps.workflows.get(row.workflow);
    if (!workflow) {
      await this.deps.pipelines.close(row.correlationId, LOST);
      return;
    }
    if (row.pipelineId === null) {
      if (await this.deps.creator.find(row)) return;
      if (now - row.createdAt < this.deps.tuning.discoveryTimeoutMs) return;
      await this.giveUp(
        row,
        `GitLab lists no pipeline named with correlation id ${row.correlationId} in ${row.project}: the runner's .gitlab-ci.yml needs "workflow: name: … $[[ inputs.correlation_id ]]" (see docs/gitlab.md)`,
      );
      return;
    }
    if (!everything && now - row.lastSeenAt < this.deps.tuning.staleAfterMs) return;
    let observed: Awaited<ReturnType<GitlabClient["getPipeline"]>>;
    try {
      observed = await this.deps.client.getPipeline(row.project, row.pipelineId);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        await this.giveUp(
          row,
          `GitLab pipeline ${row.pipelineId} no longer exists in ${row.project}`,
        );
        return;
      }
      throw error;
    }
    // A failed pipeline's jobs say whether it was a timeout.
    const jobs =
      observed.status === "failed"
        ? await this.deps.client.listJobs(row.project, row.pipelineId)
        : undefined;
    this.deps.log.debug("gitlab reconcile: polled", {
      ...pipelineLogFields(row),
      gitlab_status: observed.status,
    });
    await this.deps.tracker.applyPipeline(row, {
      status: observed.status,
      webUrl: observed.web_url,
      jobs: jobs?.map((job) => ({
        name: job.name,
        status: job.status,
        failureReason: job.failure_reason ?? null,
      })),
    });
  }

  private async giveUp(row: GitlabPipeline, error: string): Promise<void> {
    this.deps.log.warn("gitlab reconcile: giving up on pipeline", {
      ...pipelineLogFields(row),
      reason: error,
    });
    await this.deps.workflows.transition(row.workflow, "failed", { error, exitCode: -1 });
    await this.deps.pipelines.close(row.correlationId, LOST);
    this.deps.tracker.wake(row.correlationId);
  }
}
