/**
 * Turns a claimed push or pull request event into a pipeline: reads the repo's workflow files
 * at the event's commit from its knot, fills the default branch, matches each file's `when:`
 * (src/pipeline/compile.ts) and records one pipeline with the files that match, published on
 * /events and handed to the runner. Nothing matches: no pipeline, the event is done.
 *
 * Reading can fail (a knot down or slow). Failures are retried with backoff, for up to ten
 * minutes from the event's arrival, on the injected clock and durably: every attempt is
 * recorded, and a restart resumes the events still loading. Meanwhile a legacy pipeline the
 * knot announced for the same event runs instead, once the first read has failed. A read that
 * cannot succeed (the knot says the commit does not exist) or keeps failing ends the event
 * with a warning naming the repo, ref and error, counted in /metrics.
 *
 * The decision and the pipeline commit together, after re-reading the event's state, so an
 * event never becomes two pipelines whatever runs concurrently.
 */
import type { Clock } from "../clock.ts";
import type { Writer } from "../db/writer.ts";
import type { Logger } from "../log.ts";
import { KnotXrpcError } from "../tangled/knot-xrpc.ts";
import type { Membership, TrackedRepo } from "../tangled/membership.ts";
import {
  repoAtKnot,
  type WorkflowFiles,
  WorkflowFilesBusyError,
} from "../tangled/workflow-files.ts";
import { compileWorkflows } from "./compile.ts";
import type { Pipelines, StoredPipeline } from "./pipelines.ts";
import type { PipelineRunner } from "./runner.ts";
import type { TriggerEvent, TriggerEventKey, TriggerEvents } from "./trigger-events.ts";

/** How long an event's files are retried before tack gives up on it. */
export const RETRY_FOR_MS = 10 * 60_000;
const FIRST_RETRY_MS = 2_000;
const MAX_RETRY_MS = 60_000;

/** The wait before the next read after `attempts` failed ones: doubling from 2 s, at most 1 min. */
export function retryDelay(attempts: number): number {
  return Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** attempts);
}

export interface EventRunnerDeps {
  writer: Writer;
  events: TriggerEvents;
  pipelines: Pipelines;
  runner: PipelineRunner;
  membership: Membership;
  workflowFiles: WorkflowFiles;
  clock: Clock;
  log: Logger;
  /** Called when an event is given up (metrics). */
  onGiveUp?: () => void;
}

export class TriggerEventRunner {
  private readonly inFlight = new Map<string, Promise<void>>();
  private stopped = false;
  private readonly log: Logger;

  constructor(private readonly deps: EventRunnerDeps) {
    this.log = deps.log.child({ component: "trigger-events" });
  }

  /** Starts reading a claimed event's files, in the background; at most once at a time. */
  load(key: TriggerEventKey): void {
    const id = `${key.repo}\u0000${key.ref}\u0000${key.sha}`;
    if (this.stopped || this.inFlight.has(id)) return;
    const task = this.attempts(key).catch((error: unknown) => {
      this.log.error("event: loading failed", { err: error, repo: key.repo, ref: key.ref });
    });
    this.inFlight.set(id, task);
    void task.finally(() => this.inFlight.delete(id));
  }

  /** Resumes every event a previous process left loading. */
  recover(): void {
    const loading = this.deps.events.loading();
    if (loading.length > 0) this.log.info("event: resuming", { count: loading.length });
    for (const event of loading) this.load(event.key);
  }

  /** Stops retrying; an attempt in flight finishes (or stays loading for the next start). */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.inFlight.values());
  }

  private async attempts(key: TriggerEventKey): Promise<void> {
    for (;;) {
      const event = this.deps.events.get(key);
      if (event?.state !== "loading" || this.stopped) return;
      const wait = (event.nextAttemptAt ?? 0) - this.deps.clock.now();
      if (wait > 0) {
        await this.deps.clock.sleep(wait);
        continue;
      }
      if (await this.attempt(event)) return;
    }
  }

  /** One read of the files; true when the event is settled (ran, matched nothing, gave up). */
  private async attempt(event: TriggerEvent): Promise<boolean> {
    const { key } = event;
    const log = this.log.child({ repo: key.repo, ref: key.ref, sha: key.sha });
    const repo = this.trackedRepo(event);
    if (!repo) {
      log.info("event: repo no longer uses this spindle; nothing runs");
      await this.settle(key, () => undefined);
      return true;
    }
    try {
      const where = repoAtKnot(repo);
      const files = await this.deps.workflowFiles.load(where, key.sha);
      const defaultBranch = await this.deps.workflowFiles.defaultBranch(where);
      const trigger = { ...event.trigger, repo: { ...event.trigger.repo, defaultBranch } };
      const compiled = compileWorkflows(files, trigger, event.changedFiles);
      for (const diagnostic of compiled.diagnostics) {
        log.warn("event: workflow left out", { reason: diagnostic });
      }
      const pipeline = await this.settle(key, (tx, onCommit) =>
        compiled.workflows.length > 0
          ? this.deps.pipelines.createInTx(tx, onCommit, {
              triggerMetadata: trigger,
              workflows: compiled.workflows,
            })
          : undefined,
      );
      if (pipeline) {
        log.info("event: pipeline created", {
          pipeline_rkey: pipeline.rkey,
          workflows: pipeline.record.workflows.length,
        });
      } else log.debug("event: no workflow matches", { files: files.length });
      return true;
    } catch (error) {
      return this.failed(event, error, log);
    }
  }

  /**
   * A read failed: run the held legacy pipeline if there is one, else retry later, or give up
   * when the error is final or ten minutes have passed.
   */
  private async failed(event: TriggerEvent, error: unknown, log: Logger): Promise<boolean> {
    const message = error instanceof Error ? error.message : String(error);
    const retryable =
      error instanceof WorkflowFilesBusyError ||
      (error instanceof KnotXrpcError ? error.retryable : false);
    if (!(error instanceof KnotXrpcError) && !(error instanceof WorkflowFilesBusyError))
      throw error;
    const now = this.deps.clock.now();
    const giveUp = !retryable || now - event.receivedAt >= RETRY_FOR_MS;
    const outcome = await this.deps.writer.write((tx, onCommit) => {
      const current = this.deps.events.get(event.key, tx);
      if (current?.state !== "loading") return "settled" as const;
      if (current.fallback) {
        const { rkey, record } = current.fallback;
        const pipeline =
          this.deps.pipelines.recordFromKnotInTx(tx, current.knot, rkey, record) ??
          this.deps.pipelines.get(rkey);
        this.deps.events.finish(tx, event.key, rkey, now);
        if (pipeline) onCommit(() => this.deps.runner.run(pipeline));
        return "fallback" as const;
      }
      if (giveUp) {
        this.deps.events.giveUp(tx, event.key, message, now);
        return "gave-up" as const;
      }
      this.deps.events.failedAttempt(tx, event.key, message, now + retryDelay(current.attempts));
      return "retry" as const;
    });
    if (outcome === "fallback") {
      log.warn("event: workflow files unreadable; running the knot's own pipeline instead", {
        err: message,
      });
    } else if (outcome === "gave-up") {
      log.warn("event: giving up, the workflow files cannot be read", { err: message });
      this.deps.onGiveUp?.();
    } else if (outcome === "retry") {
      log.info("event: workflow files unreadable, retrying", { err: message });
    }
    return outcome !== "retry";
  }

  /**
   * Ends a loading event with the pipeline `make` returns (or none), in one commit, only if
   * it is still loading; the pipeline is handed to the runner after the commit.
   */
  private settle(
    key: TriggerEventKey,
    make: (...args: Parameters<Parameters<Writer["write"]>[0]>) => StoredPipeline | undefined,
  ): Promise<StoredPipeline | undefined> {
    return this.deps.writer.write((tx, onCommit) => {
      const current = this.deps.events.get(key, tx);
      if (current?.state !== "loading") return undefined;
      const pipeline = make(tx, onCommit);
      this.deps.events.finish(tx, key, pipeline?.rkey ?? null, this.deps.clock.now());
      if (pipeline) onCommit(() => this.deps.runner.run(pipeline));
      return pipeline;
    });
  }

  private trackedRepo(event: TriggerEvent): TrackedRepo | undefined {
    const { repo } = event.trigger;
    const tracked = repo.repoDid
      ? this.deps.membership.servedRepo(repo.repoDid)
      : this.deps.membership.trackedRepo(repo.did, repo.repo ?? "", event.knot);
    return tracked && this.deps.membership.isAllowed(tracked.did) ? tracked : undefined;
  }
}
