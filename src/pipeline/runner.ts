/**
 * Runs a recorded pipeline: hands each of its workflows to the provider its `tack:` block
 * names, then marks the pipeline dispatched. Whoever made the pipeline (a knot's announcement,
 * a push, a pull request, a manual run) records it first (src/pipeline/pipelines.ts) and then
 * calls `run`, so a crash in between leaves it undispatched and `recover()` finishes it at the
 * next start. Dispatch is idempotent per workflow (src/pipeline/dispatch.ts), so finishing a
 * half-dispatched pipeline never runs a workflow twice.
 */
import type { Logger } from "../log.ts";
import type { PipelineWorkflow } from "../tangled/lexicons.ts";
import { type DispatchDeps, dispatchWorkflow } from "./dispatch.ts";
import type { Pipelines, StoredPipeline } from "./pipelines.ts";
import { readTackBlock } from "./workflow-yaml.ts";

export interface RunnerDeps extends DispatchDeps {
  pipelines: Pipelines;
}

export class PipelineRunner {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly log: Logger;

  constructor(private readonly deps: RunnerDeps) {
    this.log = deps.log.child({ component: "pipelines" });
  }

  /** Starts dispatching in the background; `stop()` waits for it. */
  run(pipeline: StoredPipeline): void {
    const task = this.dispatch(pipeline);
    this.inFlight.add(task);
    void task.finally(() => this.inFlight.delete(task));
  }

  /** Starts finishing the pipelines a previous process recorded but did not fully dispatch. */
  recover(): void {
    const pending = this.deps.pipelines.undispatched();
    if (pending.length > 0)
      this.log.info("pipeline: recovering undispatched", { count: pending.length });
    for (const pipeline of pending) this.run(pipeline);
  }

  /** Waits for dispatches in flight (their pipelines stay undispatched if interrupted). */
  async stop(): Promise<void> {
    await Promise.all(this.inFlight);
  }

  private async dispatch(pipeline: StoredPipeline): Promise<void> {
    const { knot, rkey } = pipeline;
    try {
      await Promise.all(
        uniqueWorkflows(pipeline, this.log).map((workflow) => this.dispatchOne(pipeline, workflow)),
      );
      await this.deps.pipelines.markDispatched(knot, rkey);
    } catch (error) {
      this.log.error("pipeline: dispatch failed", { err: error, knot, pipeline_rkey: rkey });
    }
  }

  private async dispatchOne(pipeline: StoredPipeline, workflow: PipelineWorkflow): Promise<void> {
    const block = readTackBlock(workflow.raw);
    await dispatchWorkflow(this.deps, {
      id: { knot: pipeline.knot, pipelineRkey: pipeline.rkey, name: workflow.name },
      provider: block.ok ? block.provider : "",
      options: block.ok ? block.options : {},
      context: JSON.parse(JSON.stringify(pipeline.record.triggerMetadata)),
      problem: block.ok ? undefined : block.error,
    });
  }
}

/**
 * The pipeline's workflows, each name once: names identify workflows, so a second one of the
 * same name is the announcer's mistake and is left out (with a warning).
 */
export function uniqueWorkflows(pipeline: StoredPipeline, log?: Logger): PipelineWorkflow[] {
  const names = new Set<string>();
  return pipeline.record.workflows.filter((workflow) => {
    if (!names.has(workflow.name)) return names.add(workflow.name);
    log?.warn("pipeline: duplicate workflow name ignored", {
      knot: pipeline.knot,
      pipeline_rkey: pipeline.rkey,
      workflow: workflow.name,
    });
    return false;
  });
}
