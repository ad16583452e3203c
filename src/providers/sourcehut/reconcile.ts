/**
 * Follows builds.sr.ht jobs by polling: sourcehut sends no webhook tack could trust, so the API
 * is the only source of a job's state.
 *
 * Each open job carries its own schedule in sourcehut_jobs (next poll, current interval). The
 * interval starts at `minPollMs` after a submit and after every change seen, and grows by
 * `pollGrowth` per unchanged poll up to `maxPollMs`: a job that sits queued or runs for an hour
 * costs few requests, and a job that just moved is looked at again soon. The schedule commits
 * with the status change it came with, so a restart carries on at the same pace; at start
 * (`resume`) every open job is polled at once, since anything may have happened meanwhile.
 * Due jobs are asked about together, up to `pollBatch` per GraphQL request.
 *
 * The poller also finishes what could not be done at once: it cancels a job whose workflow
 * was cancelled while the job was still queued (sourcehut cancels only running jobs), it keeps
 * looking for a job whose submit answer was lost, and it gives up (failing the workflow) on a
 * job sourcehut no longer shows or that has not changed for `abandonAfterMs`.
 */
import type { Clock } from "../../clock.ts";
import type { Logger } from "../../log.ts";
import { isTerminal } from "../../pipeline/status.ts";
import type { StoredWorkflow } from "../../pipeline/workflows.ts";
import { ApiError } from "../http-client.ts";
import { pause } from "../pause.ts";
import type { WorkflowStore } from "../provider.ts";
import { SerialPasses } from "../serial-passes.ts";
import { jobLogFields, type SourcehutJob, type SourcehutJobs } from "./builds.ts";
import type { SourcehutClient } from "./client.ts";
import type { ApiJob } from "./schemas.ts";
import type { JobSubmitter } from "./spawn.ts";
import { LOST, stateRank } from "./states.ts";
import type { JobTracker } from "./track.ts";
import type { SourcehutTuning } from "./tuning.ts";

export class Poller {
  private loop: Promise<void> | undefined;
  private readonly passes: SerialPasses;
  private wakeUp: (() => void) | undefined;
  private woken = false;
  /** When each row without a job id was last searched for, in this process. */
  private readonly searched = new Map<string, number>();

  constructor(
    private readonly deps: {
      clients: Map<string, SourcehutClient>;
      jobs: SourcehutJobs;
      submitter: JobSubmitter;
      tracker: JobTracker;
      workflows: WorkflowStore;
      log: Logger;
      clock: Clock;
      tuning: SourcehutTuning;
      signal: AbortSignal;
    },
  ) {
    this.passes = new SerialPasses({
      clock: deps.clock,
      log: deps.log,
      signal: deps.signal,
      failed: "sourcehut poll: pass failed",
    });
  }

  /** Starts polling; it ends when the signal aborts. */
  start(): void {
    this.loop ??= (async () => {
      while (!this.deps.signal.aborted) {
        await this.pass();
        if (this.deps.signal.aborted) return;
        await this.sleep();
      }
    })();
  }

  /** Polls now whatever is due (new work, a cancel, a nudge). */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Makes a job due now and wakes the poller. */
  async pollNow(row: SourcehutJob): Promise<void> {
    await this.deps.jobs.pollSoon(
      row.correlationId,
      this.deps.clock.now(),
      this.deps.tuning.minPollMs,
    );
    this.wake();
  }

  /**
   * After a restart: every open job is due at once, and a workflow tack believes is on
   * sourcehut but has no job row at all fails (nothing could ever report on it).
   */
  async resume(workflows: StoredWorkflow[]): Promise<void> {
    const now = this.deps.clock.now();
    for (const row of this.deps.jobs.open()) {
      await this.deps.jobs.pollSoon(
        row.correlationId,
        now,
        row.pollIntervalMs || this.deps.tuning.minPollMs,
      );
    }
    for (const workflow of workflows) {
      if (!workflow.spawned || this.deps.jobs.latestFor(workflow.id)) continue;
      await this.deps.workflows.transition(workflow.id, "failed", {
        error: "tack has no record of this workflow's builds.sr.ht job",
        exitCode: -1,
      });
    }
    this.wake();
  }

  /** Resolves once the loop and any pass under way have finished (after the signal aborted). */
  async stopped(): Promise<void> {
    this.wakeUp?.();
    await Promise.all([this.loop, this.passes.stopped()]);
  }

  /** One pass over what is due (never two at once). */
  pass(): Promise<void> {
    return this.passes.queue(() => this.run());
  }

  private async sleep(): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return;
    }
    const { clock, tuning } = this.deps;
    const next = this.deps.jobs.nextPollAt();
    const searching = this.deps.jobs.open().some((row) => row.jobId === null);
    const until = Math.min(
      next ?? Number.POSITIVE_INFINITY,
      searching ? clock.now() + tuning.minPollMs : Number.POSITIVE_INFINITY,
      clock.now() + tuning.idleWakeMs,
    );
    const wait = until - clock.now();
    if (wait <= 0) return;
    const woken = new Promise<void>((resolve) => {
      this.wakeUp = resolve;
    });
    await Promise.race([pause(clock, wait, this.deps.signal), woken]);
    this.wakeUp = undefined;
    this.woken = false;
  }

  private async run(): Promise<void> {
    const { jobs, clock, tuning } = this.deps;
    for (const row of jobs.open()) {
      if (this.deps.signal.aborted) return;
      if (row.jobId === null) await this.search(row);
    }
    for (;;) {
      if (this.deps.signal.aborted) return;
      const due = jobs.due(clock.now(), tuning.pollBatch * 4);
      if (due.length === 0) return;
      const byInstance = new Map<string, SourcehutJob[]>();
      for (const row of due) {
        byInstance.set(row.instance, [...(byInstance.get(row.instance) ?? []), row]);
      }
      for (const [instance, rows] of byInstance) {
        for (let i = 0; i < rows.length; i += tuning.pollBatch) {
          if (this.deps.signal.aborted) return;
          const stop = await this.poll(instance, rows.slice(i, i + tuning.pollBatch));
          if (stop) return;
        }
      }
      if (due.length < tuning.pollBatch * 4) return;
    }
  }

  /** Polls one batch of one instance; true when polling should stop for now (rate limit). */
  private async poll(instance: string, rows: SourcehutJob[]): Promise<boolean> {
    const { clock } = this.deps;
    const client = this.deps.clients.get(instance);
    if (!client) {
      // TACK_SOURCEHUT_INSTANCE(S) changed since the submit: tack's token no longer goes there.
      for (const row of rows) {
        await this.giveUp(
          row,
          `${instance} is no longer one of this spindle's builds.sr.ht instances`,
        );
      }
      return false;
    }
    let found: Map<number, ApiJob | null>;
    try {
      found = await client.jobs(
        rows.map((row) => row.jobId ?? 0),
        this.deps.signal,
      );
    } catch (error) {
      if (this.deps.signal.aborted) return true;
      this.deps.log.warn("sourcehut poll: request failed", {
        err: error,
        instance,
        jobs: rows.length,
      });
      // Back off these jobs as if nothing changed, so one failing request cannot spin.
      const now = clock.now();
      for (const row of rows) {
        const interval = this.grown(row);
        await this.deps.jobs.reschedule(row.correlationId, now + interval, interval);
      }
      return error instanceof ApiError && error.kind === "rate-limited";
    }
    // The batch's jobs are applied side by side: a job first seen finished passes through
    // `running`, and a workflow's next status waits for the next whole second, so one after
    // the other a batch of short jobs would cost a second each.
    await Promise.all(
      rows.map(async (row) => {
        try {
          await this.observe(row, found.get(row.jobId ?? 0) ?? null, client);
        } catch (error) {
          this.deps.log.warn("sourcehut poll: applying failed", {
            err: error,
            ...jobLogFields(row),
          });
        }
      }),
    );
    return false;
  }

  private async observe(
    row: SourcehutJob,
    job: ApiJob | null,
    client: SourcehutClient,
  ): Promise<void> {
    const { clock, tuning } = this.deps;
    const now = clock.now();
    if (job === null) {
      await this.giveUp(row, `builds.sr.ht no longer shows job #${row.jobId} to tack's token`);
      return;
    }
    const changed = job.status.toLowerCase() !== row.state;
    if (!changed && now - row.lastChangeAt > tuning.abandonAfterMs) {
      await this.giveUp(
        row,
        `builds.sr.ht job #${job.id} showed no change for ${Math.round(tuning.abandonAfterMs / 3_600_000)} h (still ${job.status.toLowerCase()})`,
      );
      return;
    }
    if (row.cancelRequestedAt !== null && job.status === "RUNNING") {
      try {
        await client.cancel(job.id);
        this.deps.log.info("sourcehut: cancelled a job once it started", jobLogFields(row));
      } catch (error) {
        this.deps.log.warn("sourcehut poll: deferred cancel failed", {
          err: error,
          ...jobLogFields(row),
        });
      }
    }
    let interval = changed ? tuning.minPollMs : this.grown(row);
    if (row.cancelRequestedAt !== null) interval = Math.min(interval, tuning.cancelWatchMs);
    await this.deps.tracker.apply(row, job, {
      changed,
      nextPollAt: now + interval,
      pollIntervalMs: interval,
    });
  }

  /** A row whose submit answer was lost (and whose submit is not under way): look for its job. */
  private async search(row: SourcehutJob): Promise<void> {
    const { clock, tuning } = this.deps;
    const now = clock.now();
    if (this.deps.submitter.inFlight(row.correlationId)) return;
    if (now - row.createdAt < tuning.listDelayMs) return;
    if (now - (this.searched.get(row.correlationId) ?? 0) < tuning.minPollMs) return;
    this.searched.set(row.correlationId, now);
    try {
      const id = await this.deps.submitter.find(row);
      if (id !== undefined) {
        await this.deps.jobs.link(row.correlationId, id, tuning.minPollMs);
        this.searched.delete(row.correlationId);
        // A job found for a workflow that already ended (its spawn gave up) must not run on.
        const workflow = this.deps.workflows.get(row.workflow);
        if (workflow && isTerminal(workflow.status))
          await this.deps.jobs.requestCancel(row.correlationId);
        this.deps.log.info("sourcehut poll: found a job whose submit answer was lost", {
          ...jobLogFields(row),
          job_id: id,
        });
        return;
      }
    } catch (error) {
      this.deps.log.warn("sourcehut poll: job search failed", { err: error, ...jobLogFields(row) });
      return;
    }
    if (now - row.createdAt >= tuning.discoveryTimeoutMs) {
      this.searched.delete(row.correlationId);
      await this.giveUp(row, `builds.sr.ht shows no job for correlation id ${row.correlationId}`);
    }
  }

  private async giveUp(row: SourcehutJob, error: string): Promise<void> {
    this.deps.log.warn("sourcehut poll: giving up on job", { ...jobLogFields(row), reason: error });
    await this.deps.workflows.transition(row.workflow, "failed", { error, exitCode: -1 });
    if (stateRank(row.state) < 2) await this.deps.jobs.close(row.correlationId, LOST);
    this.deps.tracker.wake(row.correlationId);
  }

  private grown(row: SourcehutJob): number {
    const { tuning } = this.deps;
    const current = Math.max(row.pollIntervalMs, tuning.minPollMs);
    return Math.min(tuning.maxPollMs, Math.round(current * tuning.pollGrowth));
  }
}
