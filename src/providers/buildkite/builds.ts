/**
 * Owns `buildkite_builds`: one row per Buildkite build tack started (or learned about from a
 * webhook's tack:* meta_data before spawn stored it). The row is how webhooks, polls, /logs
 * and cancel find a build, and `last_seen_at` is how reconciliation finds the quiet ones.
 *
 * Writes happen inside the caller's writer transaction, so a build's row changes in the same
 * commit as whatever else the caller records (a webhook's delivery key).
 */
import { and, desc, eq, inArray, lt, sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { prepareOnce } from "../../db/prepare-once.ts";
import { pruneBatch } from "../../db/prune-batch.ts";
import type { Tx } from "../../db/writer.ts";
import type { WorkflowId } from "../../pipeline/workflows.ts";
import { stateRank } from "./states.ts";
import { BUILD_UNFINISHED, buildkiteBuilds } from "./table.ts";

export type BuildRef = typeof buildkiteBuilds.$inferSelect;

export interface BuildSighting {
  buildUuid: string;
  knot: string;
  pipelineRkey: string;
  workflow: string;
  org: string;
  pipeline: string;
  number: number;
  webUrl: string | null;
  /** The effective Buildkite state seen (see states.ts), or null when unknown. */
  state: string | null;
}

const FINISHED_STATES = ["passed", "failed", "canceled", "skipped", "not_run"];

export class BuildkiteBuilds {
  // Every webhook and poll looks a build up and records a sighting: prepared once.
  private readonly byUuidQuery;
  private readonly forWorkflowQuery;
  private readonly insert;
  private readonly update;

  constructor(private readonly db: Db) {
    this.byUuidQuery = prepareOnce(() =>
      db
        .select()
        .from(buildkiteBuilds)
        .where(eq(buildkiteBuilds.buildUuid, sql.placeholder("buildUuid")))
        .prepare(),
    );
    this.forWorkflowQuery = prepareOnce(() =>
      db
        .select()
        .from(buildkiteBuilds)
        .where(
          and(
            eq(buildkiteBuilds.knot, sql.placeholder("knot")),
            eq(buildkiteBuilds.pipelineRkey, sql.placeholder("pipelineRkey")),
            eq(buildkiteBuilds.workflow, sql.placeholder("name")),
          ),
        )
        .orderBy(desc(buildkiteBuilds.createdAt))
        .prepare(),
    );
    this.insert = prepareOnce(() =>
      db
        .insert(buildkiteBuilds)
        .values({
          buildUuid: sql.placeholder("buildUuid"),
          knot: sql.placeholder("knot"),
          pipelineRkey: sql.placeholder("pipelineRkey"),
          workflow: sql.placeholder("workflow"),
          org: sql.placeholder("org"),
          pipeline: sql.placeholder("pipeline"),
          number: sql.placeholder("number"),
          webUrl: sql.placeholder("webUrl"),
          state: sql.placeholder("state"),
          lastSeenAt: sql.placeholder("now"),
          createdAt: sql.placeholder("now"),
        })
        .prepare(),
    );
    this.update = prepareOnce(() =>
      db
        .update(buildkiteBuilds)
        .set({
          number: sql`${sql.placeholder("number")}`,
          webUrl: sql`${sql.placeholder("webUrl")}`,
          state: sql`${sql.placeholder("state")}`,
          lastSeenAt: sql`${sql.placeholder("lastSeenAt")}`,
        })
        .where(eq(buildkiteBuilds.buildUuid, sql.placeholder("buildUuid")))
        .prepare(),
    );
  }

  byUuid(buildUuid: string): BuildRef | undefined {
    return this.byUuidQuery().get({ buildUuid });
  }

  /** The workflow's builds, newest first (normally exactly one). */
  forWorkflow(id: WorkflowId): BuildRef[] {
    return this.forWorkflowQuery().all({
      knot: id.knot,
      pipelineRkey: id.pipelineRkey,
      name: id.name,
    });
  }

  /** Retention: drops up to `limit` finished builds last seen before `cutoffMs`. */
  pruneFinishedBefore(tx: Tx, cutoffMs: number, limit: number): number {
    const finished = and(
      // Seen after created: the created_at index narrows the scan to old builds.
      lt(buildkiteBuilds.createdAt, cutoffMs),
      inArray(buildkiteBuilds.state, FINISHED_STATES),
      lt(buildkiteBuilds.lastSeenAt, cutoffMs),
    );
    return pruneBatch(tx, buildkiteBuilds, finished, limit);
  }

  /** Builds whose last known state is not a finished one, quietest first. */
  unfinished(limit: number): BuildRef[] {
    return (
      this.db
        .select()
        .from(buildkiteBuilds)
        // The partial index's own condition, literally, or SQLite will not use it.
        .where(sql.raw(BUILD_UNFINISHED))
        .orderBy(buildkiteBuilds.lastSeenAt)
        .limit(limit)
        .all()
    );
  }

  /**
   * Upserts what was just seen of a build. The identity of an existing row (workflow, org,
   * pipeline) is kept; its state only moves forward, so a late webhook cannot make a finished
   * build look unfinished (or the reverse); `last_seen_at` always advances.
   */
  record(_tx: Tx, seen: BuildSighting, now: number): void {
    // The prepared statements run on the one connection, inside the caller's transaction.
    const current = this.byUuidQuery().get({ buildUuid: seen.buildUuid });
    if (!current) {
      this.insert().run({ ...seen, now });
      return;
    }
    const state = stateRank(seen.state) >= stateRank(current.state) ? seen.state : current.state;
    this.update().run({
      buildUuid: seen.buildUuid,
      number: seen.number,
      webUrl: seen.webUrl ?? current.webUrl,
      state,
      lastSeenAt: Math.max(now, current.lastSeenAt),
    });
  }

  /** Marks a build as looked at without news, so reconciliation moves on to quieter ones. */
  touch(tx: Tx, buildUuid: string, now: number): void {
    tx.update(buildkiteBuilds)
      .set({ lastSeenAt: now })
      .where(eq(buildkiteBuilds.buildUuid, buildUuid))
      .run();
  }
}
