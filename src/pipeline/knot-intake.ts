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
 * and handed to the runner.
 */
import { Value } from "@sinclair/typebox/value";
import type { Logger } from "../log.ts";
import { PipelineRecord, type TriggerMetadata } from "../tangled/lexicons.ts";
import type { Membership } from "../tangled/membership.ts";
import type { Pipelines } from "./pipelines.ts";
import type { PipelineRunner } from "./runner.ts";

export type IntakeOutcome =
  | "accepted"
  | "duplicate"
  | "malformed"
  | "knot-mismatch"
  | "repo-not-tracked"
  | "actor-not-allowed";

export interface KnotIntakeDeps {
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
    const pipeline = await this.deps.pipelines.recordFromKnot(knot, rkey, event);
    if (!pipeline) {
      log.debug("pipeline: duplicate ignored");
      return "duplicate";
    }
    log.info("pipeline: accepted", {
      kind: event.triggerMetadata.kind,
      repo: name,
      workflows: event.workflows.length,
    });
    this.deps.runner.run(pipeline);
    return "accepted";
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
