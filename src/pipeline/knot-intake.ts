/**
 * Takes the sh.tangled.pipeline records knots announce on their /events stream (the way
 * Tangled triggered spindles before spindles read pushes themselves) and turns them into
 * recorded pipelines.
 *
 * Gates, in order; a record failing one is dropped with a warning that says why, and no status
 * is emitted:
 *   1. the record validates against the lexicon, and its trigger carries its kind's data;
 *   2. triggerMetadata.repo.knot is the knot whose stream delivered it;
 *   3. the repo is tracked (its sh.tangled.repo record names this spindle, on that knot),
 *      found by its repo DID when the record has one, else by owner DID and name;
 *   4. the repo's owner is the spindle owner or a member.
 * Then the pipeline is recorded durably under the knot's rkey (a repeat is ignored, forever)
 * and handed to the runner, unless the same push or pull request event was announced before:
 * knots announce a push twice, as a refUpdate (which tack reads and matches itself) and as this
 * legacy record. If the refUpdate came first and its workflow files are still being read, the
 * record is held as a fallback that runs only if they cannot be; if they could not be read
 * already, or tack gave up on them, the record runs now; otherwise it runs nothing.
 */
import { Value } from "@sinclair/typebox/value";
import type { Clock } from "../clock.ts";
import type { Writer } from "../db/writer.ts";
import type { Logger } from "../log.ts";
import { PipelineRecord, type TriggerMetadata } from "../tangled/lexicons.ts";
import type { Membership } from "../tangled/membership.ts";
import type { Pipelines, StoredPipeline } from "./pipelines.ts";
import { repoKey } from "./push-intake.ts";
import type { PipelineRunner } from "./runner.ts";
import { keyOf, type TriggerEventKey, type TriggerEvents } from "./trigger-events.ts";

export type IntakeOutcome =
  | "accepted"
  | "duplicate"
  | "held"
  | "malformed"
  | "knot-mismatch"
  | "repo-not-tracked"
  | "actor-not-allowed";

export interface KnotIntakeDeps {
  writer: Writer;
  events: TriggerEvents;
  clock: Clock;
  pipelines: Pipelines;
  runner: PipelineRunner;
  membership: Membership;
  log: Logger;
  /** Called with every announcement's outcome (metrics). */
  onOutcome?: (outcome: IntakeOutcome) => void;
}

export class KnotPipelineIntake {
  private readonly log: Logger;

  constructor(private readonly deps: KnotIntakeDeps) {
    this.log = deps.log.child({ component: "knot-pipelines" });
  }

  /** Resolves once the pipeline is durably recorded (or refused); dispatch continues after. */
  async accept(knot: string, rkey: string, event: unknown): Promise<IntakeOutcome> {
    const outcome = await this.decide(knot, rkey, event);
    this.deps.onOutcome?.(outcome);
    return outcome;
  }

  private async decide(knot: string, rkey: string, event: unknown): Promise<IntakeOutcome> {
    const log = this.log.child({ knot, pipeline_rkey: rkey });
    const problem = recordProblem(event);
    if (problem !== undefined || !Value.Check(PipelineRecord, event)) {
      log.warn("pipeline: rejected, malformed record", { reason: problem ?? "invalid" });
      return "malformed";
    }
    const repo = event.triggerMetadata.repo;
    const name = repo.repoDid ?? `${repo.did}/${repo.repo ?? ""}`;
    if (repo.knot !== knot) {
      log.warn("pipeline: rejected, knot mismatch", { record_knot: repo.knot });
      return "knot-mismatch";
    }
    const tracked = repo.repoDid
      ? this.deps.membership.repoByDid(repo.repoDid)
      : this.deps.membership.trackedRepo(repo.did, repo.repo ?? "", knot);
    if (!tracked || tracked.knot !== knot) {
      log.warn("pipeline: rejected, repo does not use this spindle", { repo: name });
      return "repo-not-tracked";
    }
    if (!this.deps.membership.isAllowed(tracked.did)) {
      log.warn("pipeline: rejected, repo owner is not the spindle owner or a member", {
        repo: name,
      });
      return "actor-not-allowed";
    }
    const decision = await this.record(
      knot,
      rkey,
      event,
      keyOf(repoKey(tracked), event.triggerMetadata),
    );
    if (decision === "held") {
      log.info("pipeline: held, the same push is being read from its refUpdate");
      return "held";
    }
    if (!decision) {
      log.debug("pipeline: duplicate ignored");
      return "duplicate";
    }
    const pipeline = decision;
    log.info("pipeline: accepted", {
      kind: event.triggerMetadata.kind,
      repo: name,
      workflows: event.workflows.length,
    });
    this.deps.runner.run(pipeline);
    return "accepted";
  }

  /**
   * Records the pipeline unless its event ran already; "held" when it waits as the fallback of
   * an event whose files are being read.
   */
  private record(
    knot: string,
    rkey: string,
    record: PipelineRecord,
    key: TriggerEventKey | undefined,
  ): Promise<StoredPipeline | "held" | undefined> {
    const { pipelines, events } = this.deps;
    return this.deps.writer.write((tx) => {
      const now = this.deps.clock.now();
      if (!key) return pipelines.recordFromKnotInTx(tx, knot, rkey, record);
      const existing = events.get(key, tx);
      if (existing?.state === "done") return undefined;
      if (existing?.state === "loading" && existing.attempts === 0) {
        events.holdFallback(tx, key, rkey, record);
        return "held";
      }
      const pipeline = pipelines.recordFromKnotInTx(tx, knot, rkey, record);
      if (!pipeline) return undefined;
      if (existing) events.finish(tx, key, rkey, now);
      else events.claimDone(tx, { key, knot, trigger: record.triggerMetadata }, rkey, now);
      return pipeline;
    });
  }
}

/** What is wrong with an announced record, in one line; undefined when it is usable. */
function recordProblem(event: unknown): string | undefined {
  if (!Value.Check(PipelineRecord, event)) {
    const error = Value.Errors(PipelineRecord, event).First();
    return error ? `${error.path || "/"}: ${error.message}` : "invalid";
  }
  return triggerProblem(event.triggerMetadata);
}

/**
 * A trigger must carry the data of its kind: without it there is no commit to build, and no
 * sh.tangled.ci.pipeline can describe it.
 */
export function triggerProblem(trigger: TriggerMetadata): string | undefined {
  if (trigger.kind === "push" && !trigger.push) return "/triggerMetadata/push: missing";
  if (trigger.kind === "pull_request" && !trigger.pullRequest) {
    return "/triggerMetadata/pullRequest: missing";
  }
  if (trigger.kind === "manual" && !trigger.manual?.sha)
    return "/triggerMetadata/manual/sha: missing";
  return undefined;
}
