/**
 * Turns an sh.tangled.pipeline trigger from a knot into provider work.
 *
 * Gates, in order; a trigger failing one is dropped with a warning that says why, and no
 * status is emitted:
 *   1. the record validates against the lexicon;
 *   2. triggerMetadata.repo.knot is the knot whose stream delivered it;
 *   3. the repo is tracked (its sh.tangled.repo record names this spindle, on that knot);
 *   4. the repo's owner is the spindle owner or a member.
 * Then the trigger is recorded durably on (knot, rkey): a repeat is ignored, forever. Its
 * workflows are dispatched in the background; the trigger is marked dispatched when every
 * workflow reached its provider, and `recover()` finishes any that a crash interrupted.
 */
import { Value } from "@sinclair/typebox/value";
import type { Logger } from "../log.ts";
import type { ProviderRegistry } from "../providers/registry.ts";
import type { PipelineTrigger } from "../tangled/lexicons.ts";
import { PipelineTrigger as PipelineTriggerSchema } from "../tangled/lexicons.ts";
import type { Membership } from "../tangled/membership.ts";
import { dispatchWorkflow } from "./dispatch.ts";
import type { AcceptedTrigger, Triggers } from "./triggers.ts";
import { readTackBlock } from "./workflow-yaml.ts";
import type { Workflows } from "./workflows.ts";

export type TriggerOutcome =
  | "accepted"
  | "duplicate"
  | "malformed"
  | "knot-mismatch"
  | "repo-not-tracked"
  | "actor-not-allowed";

export interface TriggerDeps {
  triggers: Triggers;
  membership: Membership;
  workflows: Workflows;
  providers: ProviderRegistry;
  log: Logger;
  /** Called with every trigger's outcome (metrics). */
  onOutcome?: (outcome: TriggerOutcome) => void;
}

export class TriggerProcessor {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly log: Logger;

  constructor(private readonly deps: TriggerDeps) {
    this.log = deps.log.child({ component: "triggers" });
  }

  /** Resolves once the trigger is durably accepted (or rejected); dispatch continues after. */
  async accept(knot: string, rkey: string, event: unknown): Promise<TriggerOutcome> {
    const outcome = await this.decide(knot, rkey, event);
    this.deps.onOutcome?.(outcome);
    return outcome;
  }

  private async decide(knot: string, rkey: string, event: unknown): Promise<TriggerOutcome> {
    const log = this.log.child({ knot, pipeline_rkey: rkey });
    if (!Value.Check(PipelineTriggerSchema, event)) {
      const error = Value.Errors(PipelineTriggerSchema, event).First();
      log.warn("trigger: rejected, malformed record", {
        reason: error ? `${error.path || "/"}: ${error.message}` : "invalid",
      });
      return "malformed";
    }
    const repo = event.triggerMetadata.repo;
    if (repo.knot !== knot) {
      log.warn("trigger: rejected, knot mismatch", { record_knot: repo.knot });
      return "knot-mismatch";
    }
    const tracked = this.deps.membership.trackedRepo(repo.did, repo.repo ?? "", knot);
    if (!tracked) {
      log.warn("trigger: rejected, repo does not use this spindle", {
        repo: `${repo.did}/${repo.repo}`,
      });
      return "repo-not-tracked";
    }
    if (!this.deps.membership.isAllowed(tracked.did)) {
      log.warn("trigger: rejected, repo owner is not the spindle owner or a member", {
        repo: `${repo.did}/${repo.repo}`,
      });
      return "actor-not-allowed";
    }
    if (!(await this.deps.triggers.accept({ knot, rkey, record: event }))) {
      log.debug("trigger: duplicate ignored");
      return "duplicate";
    }
    log.info("trigger: accepted", {
      kind: event.triggerMetadata.kind,
      repo: `${repo.did}/${repo.repo}`,
      workflows: event.workflows.length,
    });
    this.track(this.dispatch({ knot, rkey, record: event }));
    return "accepted";
  }

  /**
   * Starts finishing the triggers a previous process accepted but did not fully dispatch;
   * returns at once (stop() waits for them like any other dispatch).
   */
  recover(): void {
    const pending = this.deps.triggers.undispatched();
    if (pending.length > 0) {
      this.log.info("trigger: recovering undispatched", { count: pending.length });
    }
    for (const trigger of pending) this.track(this.dispatch(trigger));
  }

  /** Waits for dispatches in flight (their triggers stay undispatched if interrupted). */
  async stop(): Promise<void> {
    await Promise.all(this.inFlight);
  }

  private async dispatch(trigger: AcceptedTrigger): Promise<void> {
    const { knot, rkey, record } = trigger;
    try {
      // Names identify workflows; a second workflow of the same name is the knot's mistake.
      const names = new Set<string>();
      const unique = record.workflows.filter((workflow) => {
        if (!names.has(workflow.name)) return names.add(workflow.name);
        this.log.warn("trigger: duplicate workflow name ignored", {
          knot,
          pipeline_rkey: rkey,
          workflow: workflow.name,
        });
        return false;
      });
      await Promise.all(unique.map((workflow) => this.dispatchOne(knot, rkey, record, workflow)));
      await this.deps.triggers.markDispatched(knot, rkey);
    } catch (error) {
      this.log.error("trigger: dispatch failed", { err: error, knot, pipeline_rkey: rkey });
    }
  }

  private async dispatchOne(
    knot: string,
    rkey: string,
    record: PipelineTrigger,
    workflow: PipelineTrigger["workflows"][number],
  ): Promise<void> {
    const id = { knot, pipelineRkey: rkey, name: workflow.name };
    const block = readTackBlock(workflow.raw);
    const context = JSON.parse(JSON.stringify(record.triggerMetadata));
    await dispatchWorkflow(this.deps, {
      id,
      provider: block.ok ? block.provider : "",
      options: block.ok ? block.options : {},
      context,
      problem: block.ok ? undefined : block.error,
    });
  }

  private track(task: Promise<void>): void {
    this.inFlight.add(task);
    void task.finally(() => this.inFlight.delete(task));
  }
}
