/**
 * Owns the `trigger_events` table: the durable memory that makes a push (or a pull request
 * event) run once, whoever announces it and however often.
 *
 * An event is keyed by (repo, ref, commit). The first announcement claims the key: a refUpdate
 * or a pull record claims it as "loading" (tack must read the workflow files first), a legacy
 * knot pipeline, which brings its workflows, as "done" straight away. Every later announcement
 * of the same key finds the claim and runs nothing, except one case: a legacy pipeline arriving
 * while the files of a claimed event cannot be read. It is held as the event's fallback and
 * runs if reading keeps failing (see src/pipeline/event-runner.ts).
 */
import { Value } from "@sinclair/typebox/value";
import { and, eq, isNotNull, lt, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { prepareOnce } from "../db/prepare-once.ts";
import { pruneBatch } from "../db/prune-batch.ts";
import { triggerEvents } from "../db/schema.ts";
import type { Tx } from "../db/writer.ts";
import { PipelineRecord, TriggerMetadata } from "../tangled/lexicons.ts";

export interface TriggerEventKey {
  /** The repo DID, or `ownerDid/name` for repos without one. */
  repo: string;
  /** The pushed ref, or `pull:<source>:<target>:<action>` for a pull request event. */
  ref: string;
  sha: string;
}

export type TriggerEventState = "loading" | "done" | "gave-up";

export interface TriggerEvent {
  key: TriggerEventKey;
  knot: string;
  state: TriggerEventState;
  trigger: TriggerMetadata;
  changedFiles: string[];
  attempts: number;
  /** Unix ms; null when the next attempt is due now. */
  nextAttemptAt: number | null;
  lastError: string | null;
  /** A legacy knot pipeline for the same event, held in case the files cannot be read. */
  fallback: { rkey: string; record: PipelineRecord } | undefined;
  receivedAt: number;
}

export class TriggerEvents {
  // Looked up for every push and legacy pipeline a knot announces: prepared once. It runs on
  // the one connection, so inside a transaction it sees that transaction's writes.
  private readonly byKey;

  constructor(private readonly db: Db) {
    this.byKey = prepareOnce(() =>
      db
        .select()
        .from(triggerEvents)
        .where(
          and(
            eq(triggerEvents.repo, sql.placeholder("repo")),
            eq(triggerEvents.ref, sql.placeholder("ref")),
            eq(triggerEvents.sha, sql.placeholder("sha")),
          ),
        )
        .prepare(),
    );
  }

  /** The event's row as it stands (inside a transaction, as the transaction sees it). */
  get(key: TriggerEventKey, _tx?: Tx): TriggerEvent | undefined {
    const row = this.byKey().get({ repo: key.repo, ref: key.ref, sha: key.sha });
    return row && toEvent(row);
  }

  /**
   * Claims the key for an event whose workflow files must still be read; false when it was
   * claimed before (by anyone).
   */
  claimLoading(
    tx: Tx,
    event: { key: TriggerEventKey; knot: string; trigger: TriggerMetadata; changedFiles: string[] },
    now: number,
  ): boolean {
    return this.insert(tx, { ...event, state: "loading", now });
  }

  /**
   * Claims the key for an event that runs as `pipelineRkey` right away (a legacy knot pipeline
   * brings its own workflows); false when it was claimed before.
   */
  claimDone(
    tx: Tx,
    event: { key: TriggerEventKey; knot: string; trigger: TriggerMetadata },
    pipelineRkey: string,
    now: number,
  ): boolean {
    return this.insert(tx, { ...event, changedFiles: [], state: "done", now, pipelineRkey });
  }

  /** Holds a legacy knot pipeline for a loading event. */
  holdFallback(tx: Tx, key: TriggerEventKey, rkey: string, record: PipelineRecord): void {
    tx.update(triggerEvents)
      .set({ fallbackRkey: rkey, fallback: JSON.stringify(record) })
      .where(matches(key))
      .run();
  }

  /** Ends the event; `pipelineRkey` is the pipeline that ran it (null: nothing matched). */
  finish(tx: Tx, key: TriggerEventKey, pipelineRkey: string | null, now: number): void {
    tx.update(triggerEvents)
      .set({ state: "done", pipelineRkey, finishedAt: now, fallback: null })
      .where(matches(key))
      .run();
  }

  /** Records a failed attempt to read the files; the next one is due at `nextAttemptAt`. */
  failedAttempt(tx: Tx, key: TriggerEventKey, error: string, nextAttemptAt: number): void {
    const current = this.get(key, tx);
    tx.update(triggerEvents)
      .set({ attempts: (current?.attempts ?? 0) + 1, lastError: error, nextAttemptAt })
      .where(matches(key))
      .run();
  }

  /** Gives up reading the files: nothing runs for this event any more. */
  giveUp(tx: Tx, key: TriggerEventKey, error: string, now: number): void {
    tx.update(triggerEvents)
      .set({ state: "gave-up", lastError: error, finishedAt: now, fallback: null })
      .where(matches(key))
      .run();
  }

  /** Events whose files are still to be read (after a restart: all of them resume). */
  loading(): TriggerEvent[] {
    return this.db
      .select()
      .from(triggerEvents)
      .where(eq(triggerEvents.state, "loading"))
      .all()
      .map(toEvent);
  }

  /**
   * Forgets up to `limit` events that ended before `cutoffMs`. Only a knot replaying more than
   * the retention period could announce one again, and knots do not.
   */
  pruneBefore(tx: Tx, cutoffMs: number, limit: number): number {
    const ended = and(isNotNull(triggerEvents.finishedAt), lt(triggerEvents.finishedAt, cutoffMs));
    return pruneBatch(tx, triggerEvents, ended, limit);
  }

  private insert(
    tx: Tx,
    event: {
      key: TriggerEventKey;
      knot: string;
      trigger: TriggerMetadata;
      changedFiles: string[];
      state: TriggerEventState;
      now: number;
      pipelineRkey?: string;
    },
  ): boolean {
    const inserted = tx
      .insert(triggerEvents)
      .values({
        ...event.key,
        knot: event.knot,
        state: event.state,
        trigger: JSON.stringify(event.trigger),
        changedFiles: JSON.stringify(event.changedFiles),
        attempts: 0,
        pipelineRkey: event.pipelineRkey ?? null,
        receivedAt: event.now,
        finishedAt: event.state === "done" ? event.now : null,
      })
      .onConflictDoNothing()
      .returning({ sha: triggerEvents.sha })
      .all();
    return inserted.length === 1;
  }
}

function matches(key: TriggerEventKey) {
  return and(
    eq(triggerEvents.repo, key.repo),
    eq(triggerEvents.ref, key.ref),
    eq(triggerEvents.sha, key.sha),
  );
}

function toEvent(row: typeof triggerEvents.$inferSelect): TriggerEvent {
  const trigger: unknown = JSON.parse(row.trigger);
  const changedFiles: unknown = JSON.parse(row.changedFiles);
  const fallback: unknown = row.fallback === null ? undefined : JSON.parse(row.fallback);
  // Validated before they were stored; checked again because they come back from disk.
  if (!Value.Check(TriggerMetadata, trigger)) {
    throw new Error(`trigger_events: stored trigger of ${row.repo} ${row.ref} does not validate`);
  }
  return {
    key: { repo: row.repo, ref: row.ref, sha: row.sha },
    knot: row.knot,
    state: row.state === "done" ? "done" : row.state === "gave-up" ? "gave-up" : "loading",
    trigger,
    changedFiles: Array.isArray(changedFiles)
      ? changedFiles.filter((file): file is string => typeof file === "string")
      : [],
    attempts: row.attempts,
    nextAttemptAt: row.nextAttemptAt,
    lastError: row.lastError,
    fallback:
      row.fallbackRkey !== null && Value.Check(PipelineRecord, fallback)
        ? { rkey: row.fallbackRkey, record: fallback }
        : undefined,
    receivedAt: row.receivedAt,
  };
}

/** The key of a trigger: the push's ref and new commit, or the pull request's branches and action. */
export function keyOf(repo: string, trigger: TriggerMetadata): TriggerEventKey | undefined {
  if (trigger.kind === "push" && trigger.push) {
    return { repo, ref: trigger.push.ref, sha: trigger.push.newSha };
  }
  if (trigger.kind === "pull_request" && trigger.pullRequest) {
    const pull = trigger.pullRequest;
    const action = pull.action === undefined || pull.action === "create" ? "opened" : pull.action;
    return {
      repo,
      ref: `pull:${pull.sourceBranch}:${pull.targetBranch}:${action}`,
      sha: pull.sourceSha,
    };
  }
  return undefined;
}
