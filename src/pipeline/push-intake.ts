/**
 * Takes the sh.tangled.git.refUpdate events a knot announces for every pushed ref and turns
 * those of this spindle's repos into claimed trigger events, whose workflows tack reads and
 * matches itself (src/pipeline/event-runner.ts), as Tangled's own spindles do.
 *
 * In order, an event is:
 *   1. refused unless it validates (today's shape names the repo by its DID in `repo`; older
 *      knots by owner DID in `repoDid` and `repoName`);
 *   2. ignored when the ref was deleted (new commit all zeros) or the push asked for no CI
 *      (`skip-ci` / `ci-skip` push option);
 *   3. ignored unless the repo is tracked here, refused unless this knot is the repo's knot,
 *      and refused unless its owner is the spindle owner or a member;
 *   4. claimed durably on (repo, ref, commit): a push announced before, by a refUpdate or a
 *      legacy knot pipeline, runs nothing more.
 * The claim commits before the knot's cursor moves past the event, so a crash replays it.
 */
import { Value } from "@sinclair/typebox/value";
import type { Clock } from "../clock.ts";
import type { Writer } from "../db/writer.ts";
import type { Logger } from "../log.ts";
import { RefUpdate, type TriggerMetadata } from "../tangled/lexicons.ts";
import type { Membership, TrackedRepo } from "../tangled/membership.ts";
import type { TriggerEventRunner } from "./event-runner.ts";
import type { TriggerEvents } from "./trigger-events.ts";

export type PushOutcome =
  | "accepted"
  | "duplicate"
  | "malformed"
  | "deleted-ref"
  | "skip-ci"
  | "repo-not-tracked"
  | "knot-mismatch"
  | "actor-not-allowed";

const NO_COMMIT = "0".repeat(40);
const SKIP_OPTIONS = new Set(["skip-ci", "ci-skip"]);

export interface PushIntakeDeps {
  writer: Writer;
  events: TriggerEvents;
  eventRunner: TriggerEventRunner;
  membership: Membership;
  clock: Clock;
  log: Logger;
  onOutcome?: (outcome: PushOutcome) => void;
}

export class PushIntake {
  private readonly log: Logger;

  constructor(private readonly deps: PushIntakeDeps) {
    this.log = deps.log.child({ component: "pushes" });
  }

  /** Resolves once the push is durably claimed (or ignored); its workflows load after. */
  async accept(knot: string, rkey: string, event: unknown): Promise<PushOutcome> {
    const outcome = await this.decide(knot, rkey, event);
    this.deps.onOutcome?.(outcome);
    return outcome;
  }

  private async decide(knot: string, rkey: string, event: unknown): Promise<PushOutcome> {
    const log = this.log.child({ knot, event_rkey: rkey });
    if (!Value.Check(RefUpdate, event) || !(event.repo || (event.repoDid && event.repoName))) {
      const error = Value.Errors(RefUpdate, event).First();
      log.warn("push: rejected, malformed refUpdate", {
        reason: error ? `${error.path || "/"}: ${error.message}` : "names no repo",
      });
      return "malformed";
    }
    const repoName = event.repo ?? `${event.repoDid}/${event.repoName}`;
    const plog = log.child({ repo: repoName, ref: event.ref, sha: event.newSha });
    if (event.newSha === NO_COMMIT) {
      plog.debug("push: ref deleted, nothing to run");
      return "deleted-ref";
    }
    if (event.pushOptions?.some((option) => SKIP_OPTIONS.has(option))) {
      plog.info("push: skipped, the push asked for no CI");
      return "skip-ci";
    }
    const tracked = event.repo
      ? this.deps.membership.repoByDid(event.repo)
      : this.deps.membership.trackedRepo(event.repoDid ?? "", event.repoName ?? "", knot);
    if (!tracked) {
      // Knots announce every repo they host; most are not ours.
      plog.debug("push: ignored, repo does not use this spindle");
      return "repo-not-tracked";
    }
    if (tracked.knot !== knot) {
      plog.warn("push: rejected, announced by a knot that is not the repo's", {
        repo_knot: tracked.knot,
      });
      return "knot-mismatch";
    }
    if (!this.deps.membership.isAllowed(tracked.did)) {
      plog.warn("push: rejected, repo owner is not the spindle owner or a member");
      return "actor-not-allowed";
    }
    const trigger: TriggerMetadata = {
      kind: "push",
      push: { ref: event.ref, oldSha: event.oldSha, newSha: event.newSha },
      repo: triggerRepo(tracked),
    };
    const key = { repo: repoKey(tracked), ref: event.ref, sha: event.newSha };
    const claimed = await this.deps.writer.write((tx) =>
      this.deps.events.claimLoading(
        tx,
        { key, knot, trigger, changedFiles: event.changedFiles ?? [] },
        this.deps.clock.now(),
      ),
    );
    if (!claimed) {
      plog.debug("push: already announced, nothing more runs");
      return "duplicate";
    }
    plog.info("push: accepted");
    this.deps.eventRunner.load(key);
    return "accepted";
  }
}

/**
 * The repo as a pipeline record names it: owner DID, knot, repo DID and the record's key; a
 * repo without a repo DID is named by its record name, as knots named it then. The default
 * branch is filled in when the workflows are read.
 */
export function triggerRepo(repo: TrackedRepo): TriggerMetadata["repo"] {
  return {
    knot: repo.knot,
    did: repo.did,
    ...(repo.repoDid ? { repoDid: repo.repoDid, repo: repo.rkey } : { repo: repo.name ?? "" }),
    defaultBranch: "",
  };
}

/** The repo part of a trigger event's key: the repo DID, else `ownerDid/name`. */
export function repoKey(repo: TrackedRepo): string {
  return repo.repoDid ?? `${repo.did}/${repo.name ?? ""}`;
}
