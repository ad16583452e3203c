/**
 * Reconciliation: webhooks are hints that can be lost, so builds are also read
 * from the API.
 *
 * - Every `intervalMs`, builds whose last known state is unfinished and that nothing (webhook
 *   or poll) has told us about for `quietAfterMs` are polled, quietest first, at most `batch`
 *   per sweep. A sweep stops early when fewer than `reserve` requests are left in Buildkite's
 *   rate-limit window, leaving them to spawns, webhooks' confirmations and /logs.
 * - At start (`resume`), every unfinished workflow's build is polled at once, in the
 *   background, waiting out rate limits rather than skipping.
 *
 * A poll applies the API's build exactly as a webhook would (track.ts), so the two paths can
 * race freely: statuses only move forward.
 */

import { Value } from "@sinclair/typebox/value";
import type { Clock } from "../../clock.ts";
import type { Writer } from "../../db/writer.ts";
import type { Logger } from "../../log.ts";
import { isTerminal } from "../../pipeline/status.ts";
import type { StoredWorkflow } from "../../pipeline/workflows.ts";
import { ApiError } from "../http-client.ts";
import { pause } from "../pause.ts";
import type { WorkflowStore } from "../provider.ts";
import type { BuildkiteBuilds, BuildRef } from "./builds.ts";
import type { BuildkiteClient } from "./client.ts";
import { BuildkiteOptions } from "./options.ts";
import { type BuildTracker, idOf, locationOf, metaDataOf } from "./track.ts";
import type { ReconcileTuning } from "./tuning.ts";

export interface ReconcileDeps {
  builds: BuildkiteBuilds;
  client: BuildkiteClient;
  tracker: BuildTracker;
  workflows: WorkflowStore;
  writer: Writer;
  clock: Clock;
  log: Logger;
  defaultOrg: string;
}

export class Reconciler {
  private readonly stopping = new AbortController();
  private readonly tasks = new Set<Promise<void>>();

  constructor(
    private readonly deps: ReconcileDeps,
    private readonly tuning: ReconcileTuning,
  ) {}

  start(): void {
    this.track(this.loop());
  }

  /** Polls the builds of workflows a previous process left unfinished, in the background. */
  resume(workflows: StoredWorkflow[]): void {
    this.track(
      (async () => {
        for (const workflow of workflows) {
          if (this.stopping.signal.aborted) return;
          await this.resumeOne(workflow).catch((error: unknown) => {
            this.deps.log.warn("buildkite: resume poll failed", {
              err: error,
              knot: workflow.id.knot,
              pipeline_rkey: workflow.id.pipelineRkey,
              workflow: workflow.id.name,
            });
          });
        }
      })(),
    );
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.all(this.tasks);
  }

  /** One sweep over the quiet unfinished builds (exposed for tests and for the loop). */
  async sweep(): Promise<void> {
    const quietBefore = this.deps.clock.now() - this.tuning.quietAfterMs;
    const quiet = this.deps.builds
      .unfinished(this.tuning.batch)
      .filter((ref) => ref.lastSeenAt <= quietBefore);
    for (const ref of quiet) {
      if (this.stopping.signal.aborted) return;
      if (this.deps.client.lowOnBudget(this.tuning.reserve)) {
        this.deps.log.debug("buildkite: rate limit nearly spent, polls deferred");
        return;
      }
      await this.poll(ref).catch((error: unknown) => {
        this.deps.log.warn("buildkite: poll failed", {
          err: error,
          build_uuid: ref.buildUuid,
          knot: ref.knot,
          pipeline_rkey: ref.pipelineRkey,
          workflow: ref.workflow,
        });
      });
    }
  }

  private async loop(): Promise<void> {
    const { signal } = this.stopping;
    while (!signal.aborted) {
      await pause(this.deps.clock, this.tuning.intervalMs, signal);
      if (signal.aborted) return;
      await this.sweep();
    }
  }

  private async poll(ref: BuildRef): Promise<void> {
    const now = this.deps.clock.now();
    const workflow = this.deps.workflows.get(idOf(ref));
    if (!workflow || isTerminal(workflow.status)) {
      // Tangled already has the final word; only move the row to the back of the queue.
      await this.deps.writer.write((tx) => this.deps.builds.touch(tx, ref.buildUuid, now));
      return;
    }
    try {
      const build = await this.deps.client.getBuild(locationOf(ref), {
        signal: this.stopping.signal,
      });
      await this.deps.tracker.apply({ id: idOf(ref), location: locationOf(ref) }, build);
    } catch (error) {
      if (!(error instanceof ApiError) || error.transient) throw error;
      // 404/403: Buildkite will not tell us more now; retry after another quiet period.
      await this.deps.writer.write((tx) => this.deps.builds.touch(tx, ref.buildUuid, now));
      throw error;
    }
  }

  private async resumeOne(workflow: StoredWorkflow): Promise<void> {
    const refs = this.deps.builds.forWorkflow(workflow.id);
    for (const ref of refs) {
      if (this.stopping.signal.aborted) return;
      const build = await this.deps.client.getBuild(locationOf(ref), {
        signal: this.stopping.signal,
      });
      await this.deps.tracker.apply({ id: workflow.id, location: locationOf(ref) }, build);
    }
    if (refs.length > 0) return;
    // Spawned, yet no reference: find the build by the meta_data spawn put on it.
    if (!Value.Check(BuildkiteOptions, workflow.options)) return;
    const org = workflow.options.org ?? this.deps.defaultOrg;
    const [build] = await this.deps.client.findBuilds(
      org,
      workflow.options.pipeline,
      metaDataOf(workflow.id),
    );
    if (build) {
      const location = { org, pipeline: workflow.options.pipeline, number: build.number };
      await this.deps.tracker.apply({ id: workflow.id, location }, build);
      return;
    }
    this.deps.log.error("buildkite: no build found for an unfinished workflow, failing it", {
      knot: workflow.id.knot,
      pipeline_rkey: workflow.id.pipelineRkey,
      workflow: workflow.id.name,
    });
    await this.deps.workflows.transition(workflow.id, "failed", {
      error: "tack lost track of this workflow's Buildkite build",
      exitCode: -1,
    });
  }

  private track(task: Promise<void>): void {
    const tracked = task.catch((error: unknown) => {
      this.deps.log.error("buildkite: reconciliation failed", { err: error });
    });
    this.tasks.add(tracked);
    void tracked.finally(() => this.tasks.delete(tracked));
  }
}
