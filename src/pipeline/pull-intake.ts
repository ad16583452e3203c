/**
 * Same-repo pull requests, from Jetstream, as Tangled's own spindles take them (fork pull
 * requests come through sh.tangled.ci.triggerPipeline instead):
 *
 * - An sh.tangled.repo.pull created is `opened`, updated is `synchronize` (a new round).
 * - An sh.tangled.repo.pull.status created is `reopened`, `closed` or `merged`.
 * - Only branch pull requests (a `source` without another repo) targeting a repo this spindle
 *   serves count; their author must have push rights on it (the owner or a collaborator), and
 *   for a status, so must its writer unless it is the author.
 * - The commit is the round's: `source.sha` in older records, else the last patch of the latest
 *   round's patch, read from the author's PDS. A status runs the commit of the latest round
 *   tack saw.
 * Then the event is claimed on (repo, branches and action, commit) like a push, and its
 * workflows are read from the target repo at that commit and matched with the pull request
 * rules (src/pipeline/event-runner.ts).
 *
 * Everything up to the claim is decided inside the Jetstream consumer's transaction, with its
 * cursor; a patch still to be read is queued in that same transaction and read afterwards, with
 * retries, so a crash never loses a pull request nor runs one twice.
 */

import { Value } from "@sinclair/typebox/value";
import { and, asc, eq } from "drizzle-orm";
import type { IdentityResolver } from "../atproto/identity.ts";
import { IdentityError } from "../atproto/identity.ts";
import { getBlob, PdsError } from "../atproto/pds.ts";
import type { Clock } from "../clock.ts";
import type { Db } from "../db/client.ts";
import { pullQueue, pulls } from "../db/schema.ts";
import type { OnCommit, Tx, Writer } from "../db/writer.ts";
import type { Logger } from "../log.ts";
import type { JetstreamRecordEvent } from "../tangled/jetstream.ts";
import {
  NSID_PULL,
  NSID_PULL_STATUS,
  PullRecord,
  PullStatusRecord,
  type TriggerMetadata,
} from "../tangled/lexicons.ts";
import type { Membership, TrackedRepo } from "../tangled/membership.ts";
import { lastCommitOfPatch, MAX_PATCH_BYTES } from "../tangled/patch.ts";
import { RETRY_FOR_MS, retryDelay, type TriggerEventRunner } from "./event-runner.ts";
import { repoKey, triggerRepo } from "./push-intake.ts";
import { keyOf, type TriggerEvents } from "./trigger-events.ts";

const STATUS_ACTIONS: Record<string, string> = {
  "sh.tangled.repo.pull.status.open": "reopened",
  "sh.tangled.repo.pull.status.closed": "closed",
  "sh.tangled.repo.pull.status.merged": "merged",
};

export interface PullIntakeDeps {
  db: Db;
  writer: Writer;
  events: TriggerEvents;
  eventRunner: TriggerEventRunner;
  membership: Membership;
  identities: IdentityResolver;
  clock: Clock;
  log: Logger;
  /** The fetch used towards users' PDSes. */
  fetch?: typeof fetch;
}

export class PullIntake {
  private readonly log: Logger;
  private draining: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly deps: PullIntakeDeps) {
    this.log = deps.log.child({ component: "pulls" });
  }

  /** The collections this intake takes from Jetstream. */
  static readonly collections = [NSID_PULL, NSID_PULL_STATUS];

  /**
   * Decides on one Jetstream record inside the consumer's transaction. Work that needs the
   * network (a patch to read, workflows to load) starts after the commit.
   */
  applyInTx(tx: Tx, onCommit: OnCommit, event: JetstreamRecordEvent): void {
    if (event.operation === "delete") return;
    const log = this.log.child({ did: event.did, collection: event.collection, rkey: event.rkey });
    if (event.collection === NSID_PULL) this.applyPull(tx, onCommit, event, log);
    else if (event.collection === NSID_PULL_STATUS && event.operation === "create") {
      this.applyStatus(tx, onCommit, event, log);
    }
  }

  /** Reads the patches queued before a restart. */
  recover(): void {
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.draining;
  }

  private applyPull(tx: Tx, onCommit: OnCommit, event: JetstreamRecordEvent, log: Logger): void {
    if (!Value.Check(PullRecord, event.record)) {
      log.debug("pull: skipped, not a pull record tack understands");
      return;
    }
    const record = event.record;
    const target = this.targetRepo(record.target.repoDid ?? record.target.repo);
    if (!target) return; // someone else's repo: most pull requests on the network
    const source = record.source;
    const sourceRepo = source?.repoDid ?? source?.repo;
    if (!source || (sourceRepo && !this.names(target, sourceRepo))) {
      log.debug("pull: skipped, not a branch pull request");
      return;
    }
    if (!this.deps.membership.hasPushRights(event.did, target)) {
      log.warn("pull: rejected, its author has no push rights on the repo", {
        repo: repoKey(target),
      });
      return;
    }
    const uri = `at://${event.did}/${NSID_PULL}/${event.rkey}`;
    const action = event.operation === "create" ? "opened" : "synchronize";
    const now = this.deps.clock.now();
    const known = {
      author: event.did,
      repo: repoKey(target),
      sourceBranch: source.branch,
      targetBranch: record.target.branch,
      updatedAt: now,
    };
    if (source.sha) {
      this.remember(tx, uri, { ...known, sourceSha: source.sha });
      this.claim(tx, onCommit, target, { ...known, sourceSha: source.sha }, action, log);
      return;
    }
    const cid = record.rounds?.at(-1)?.patchBlob?.ref.$link;
    if (!cid) {
      log.warn("pull: skipped, its latest round has no patch to read the commit from");
      return;
    }
    this.remember(tx, uri, { ...known, sourceSha: null });
    tx.insert(pullQueue)
      .values({ uri, action, patchCid: cid, attempts: 0, receivedAt: now })
      .onConflictDoNothing()
      .run();
    onCommit(() => this.wake());
  }

  private applyStatus(tx: Tx, onCommit: OnCommit, event: JetstreamRecordEvent, log: Logger): void {
    if (!Value.Check(PullStatusRecord, event.record)) return;
    const action = STATUS_ACTIONS[event.record.status];
    if (!action) return;
    const pull = tx.select().from(pulls).where(eq(pulls.uri, event.record.pull)).get();
    if (!pull) return; // not a pull request of this spindle's repos
    const target = this.repoOfKey(pull.repo);
    if (!target) return;
    if (
      !this.deps.membership.hasPushRights(pull.author, target) ||
      (event.did !== pull.author && !this.deps.membership.hasPushRights(event.did, target))
    ) {
      log.warn("pull: status rejected, its writer has no push rights on the repo", {
        repo: pull.repo,
        pull: pull.uri,
      });
      return;
    }
    if (!pull.sourceSha) {
      log.warn("pull: status skipped, the pull request's commit is not known yet", {
        pull: pull.uri,
      });
      return;
    }
    this.claim(tx, onCommit, target, { ...pull, sourceSha: pull.sourceSha }, action, log);
  }

  /** Claims the event (once, whoever else announced it) and loads its workflows after commit. */
  private claim(
    tx: Tx,
    onCommit: OnCommit,
    target: TrackedRepo,
    pull: { sourceBranch: string; targetBranch: string; sourceSha: string },
    action: string,
    log: Logger,
  ): void {
    const trigger: TriggerMetadata = {
      kind: "pull_request",
      pullRequest: {
        action,
        sourceBranch: pull.sourceBranch,
        sourceSha: pull.sourceSha,
        targetBranch: pull.targetBranch,
      },
      repo: triggerRepo(target),
    };
    const key = keyOf(repoKey(target), trigger);
    if (!key) return;
    const claimed = this.deps.events.claimLoading(
      tx,
      { key, knot: target.knot, trigger, changedFiles: [] },
      this.deps.clock.now(),
    );
    if (!claimed) {
      log.debug("pull: already announced, nothing more runs", { ref: key.ref });
      return;
    }
    log.info("pull: accepted", { repo: key.repo, action, sha: pull.sourceSha });
    onCommit(() => this.deps.eventRunner.load(key));
  }

  private remember(tx: Tx, uri: string, pull: Omit<typeof pulls.$inferInsert, "uri">): void {
    tx.insert(pulls)
      .values({ uri, ...pull })
      .onConflictDoUpdate({ target: pulls.uri, set: pull })
      .run();
  }

  /** Reads queued patches one at a time until the queue holds nothing due. */
  private wake(): void {
    if (this.stopped) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = this.drain()
      .catch((error: unknown) => this.log.error("pull: reading patches failed", { err: error }))
      .finally(() => {
        this.draining = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const waiting = this.deps.db
        .select()
        .from(pullQueue)
        .orderBy(asc(pullQueue.receivedAt))
        .all();
      if (waiting.length === 0) return;
      const now = this.deps.clock.now();
      const due = waiting.find((row) => (row.nextAttemptAt ?? 0) <= now);
      if (!due) {
        const next = Math.min(...waiting.map((row) => row.nextAttemptAt ?? now));
        await this.deps.clock.sleep(next - now);
        continue;
      }
      await this.readPatch(due);
    }
  }

  private async readPatch(row: typeof pullQueue.$inferSelect): Promise<void> {
    const log = this.log.child({ pull: row.uri });
    const pull = this.deps.db.select().from(pulls).where(eq(pulls.uri, row.uri)).get();
    const target = pull && this.repoOfKey(pull.repo);
    if (!pull || !target) {
      await this.deps.writer.write((tx) => tx.delete(pullQueue).where(queued(row)).run());
      return;
    }
    try {
      const identity = await this.deps.identities.resolve(pull.author);
      if (!identity.pds) throw new IdentityError(`${pull.author} names no PDS`, false);
      const blob = await getBlob(
        identity.pds,
        pull.author,
        row.patchCid,
        MAX_PATCH_BYTES,
        this.deps.fetch,
      );
      const sha = lastCommitOfPatch(blob);
      await this.deps.writer.write((tx, onCommit) => {
        tx.delete(pullQueue).where(queued(row)).run();
        if (!sha) {
          log.warn("pull: skipped, its patch names no commit (not a format-patch series)");
          return;
        }
        tx.update(pulls).set({ sourceSha: sha }).where(eq(pulls.uri, row.uri)).run();
        this.claim(tx, onCommit, target, { ...pull, sourceSha: sha }, row.action, log);
      });
    } catch (error) {
      const retryable =
        (error instanceof PdsError || error instanceof IdentityError) && error.retryable;
      const message = error instanceof Error ? error.message : String(error);
      const now = this.deps.clock.now();
      if (!retryable || now - row.receivedAt >= RETRY_FOR_MS) {
        log.warn("pull: giving up, the round's patch cannot be read", { err: message });
        await this.deps.writer.write((tx) => tx.delete(pullQueue).where(queued(row)).run());
        return;
      }
      log.info("pull: patch unreadable, retrying", { err: message });
      await this.deps.writer.write((tx) =>
        tx
          .update(pullQueue)
          .set({
            attempts: row.attempts + 1,
            nextAttemptAt: now + retryDelay(row.attempts),
            lastError: message,
          })
          .where(queued(row))
          .run(),
      );
    }
  }

  /** A served repo named by its DID or by the at-uri of its sh.tangled.repo record. */
  private targetRepo(name: string | undefined): TrackedRepo | undefined {
    if (!name) return undefined;
    if (name.startsWith("did:")) return this.deps.membership.servedRepo(name);
    const uri = /^at:\/\/(did:[^/]+)\/sh\.tangled\.repo\/([^/]+)$/.exec(name);
    if (!uri?.[1] || !uri[2]) return undefined;
    const repo = this.deps.membership.repoByRecord(uri[1], uri[2]);
    return repo && this.deps.membership.isAllowed(repo.did) ? repo : undefined;
  }

  private repoOfKey(key: string): TrackedRepo | undefined {
    if (key.startsWith("did:") && !key.includes("/")) return this.deps.membership.servedRepo(key);
    const slash = key.indexOf("/");
    const repo = this.deps.membership.trackedRepoByName(key.slice(0, slash), key.slice(slash + 1));
    return repo && this.deps.membership.isAllowed(repo.did) ? repo : undefined;
  }

  /** Whether `name` (a DID or a record at-uri) names `repo`. */
  private names(repo: TrackedRepo, name: string): boolean {
    return name === repo.repoDid || name === `at://${repo.did}/sh.tangled.repo/${repo.rkey}`;
  }
}

function queued(row: typeof pullQueue.$inferSelect) {
  return and(
    eq(pullQueue.uri, row.uri),
    eq(pullQueue.action, row.action),
    eq(pullQueue.patchCid, row.patchCid),
  );
}
