/**
 * Polls GitHub for runs that webhooks may have missed. GitHub never redelivers a failed
 * delivery, and tack may have been down when one was sent, so webhooks are hints and this is
 * the backstop: at start (`resume`: every open run at once) and every `reconcileIntervalMs`
 * (runs not heard from for `staleAfterMs`, and dispatched runs whose id is still unknown).
 *
 * It spends the token's budget carefully: no pass while GitHub asked us to wait, or while fewer
 * than `reserveRequests` remain before the hourly reset (dispatches come first).
 */
import type { Clock } from "../../clock.ts";
import type { Logger } from "../../log.ts";
import { ApiError } from "../http-client.ts";
import type { WorkflowStore } from "../provider.ts";
import { SerialPasses } from "../serial-passes.ts";
import { type GithubRun, type GithubRuns, runLogFields } from "./builds.ts";
import type { GithubClient } from "./client.ts";
import type { RunDispatcher } from "./spawn.ts";
import { LOST } from "./states.ts";
import type { RunTracker } from "./track.ts";
import type { GithubTuning } from "./tuning.ts";

export class Reconciler {
  private readonly passes: SerialPasses;

  constructor(
    private readonly deps: {
      client: GithubClient;
      runs: GithubRuns;
      dispatcher: RunDispatcher;
      tracker: RunTracker;
      workflows: WorkflowStore;
      log: Logger;
      clock: Clock;
      tuning: GithubTuning;
      signal: AbortSignal;
    },
  ) {
    this.passes = new SerialPasses({
      clock: deps.clock,
      log: deps.log,
      signal: deps.signal,
      failed: "github reconcile: pass failed",
    });
  }

  /** Starts the periodic passes; they end when the signal aborts. */
  start(): void {
    this.passes.every(this.deps.tuning.reconcileIntervalMs, () => this.run(false));
  }

  /** Queues one pass (never two at once); `everything` polls runs heard from recently too. */
  pass(everything: boolean): Promise<void> {
    return this.passes.queue(() => this.run(everything));
  }

  /** Resolves once the loop and any queued pass have finished (after the signal aborted). */
  stopped(): Promise<void> {
    return this.passes.stopped();
  }

  private async run(everything: boolean): Promise<void> {
    const { client, clock, tuning } = this.deps;
    for (const run of this.deps.runs.open()) {
      if (this.deps.signal.aborted) return;
      if (client.lowOnBudget(tuning.reserveRequests)) {
        this.deps.log.debug("github reconcile: paused to keep the rate-limit reserve", {
          remaining: client.budget().remaining,
        });
        return;
      }
      try {
        await this.reconcile(run, everything, clock.now());
      } catch (error) {
        this.deps.log.warn("github reconcile: poll failed", { err: error, ...runLogFields(run) });
        if (error instanceof ApiError && error.kind === "rate-limited") return;
      }
    }
  }

  private async reconcile(run: GithubRun, everything: boolean, now: number): Promise<void> {
    const workflow = this.deps.workflows.get(run.workflow);
    if (!workflow) {
      await this.deps.runs.close(run.correlationId, LOST);
      return;
    }
    if (run.runId === null) {
      if (await this.deps.dispatcher.find(run)) return;
      if (now - run.createdAt < this.deps.tuning.discoveryTimeoutMs) return;
      await this.giveUp(
        run,
        `GitHub shows no run titled with correlation id ${run.correlationId}: the runner workflow needs "run-name: … \${{ inputs.correlation_id }}" (see docs/github.md)`,
      );
      return;
    }
    if (!everything && now - run.lastSeenAt < this.deps.tuning.staleAfterMs) return;
    let observed: Awaited<ReturnType<GithubClient["getRun"]>>;
    try {
      observed = await this.deps.client.getRun(run.repo, run.runId);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        await this.giveUp(run, `GitHub run ${run.runId} no longer exists in ${run.repo}`);
        return;
      }
      throw error;
    }
    if (observed.status === null) return;
    this.deps.log.debug("github reconcile: polled", {
      ...runLogFields(run),
      status: observed.status,
      conclusion: observed.conclusion,
    });
    await this.deps.tracker.applyRun(run, {
      status: observed.status,
      conclusion: observed.conclusion,
      htmlUrl: observed.html_url,
    });
  }

  private async giveUp(run: GithubRun, error: string): Promise<void> {
    this.deps.log.warn("github reconcile: giving up on run", {
      ...runLogFields(run),
      reason: error,
    });
    await this.deps.workflows.transition(run.workflow, "failed", { error, exitCode: -1 });
    await this.deps.runs.close(run.correlationId, LOST);
    this.deps.tracker.wake(run.correlationId);
  }
}
