/**
 * Owns `github_runs` (table.ts): one row per dispatch, the reference that lets webhooks, reconciliation,
 * /logs and cancel find a workflow's GitHub run.
 *
 * The row is written *before* the dispatch, keyed by the correlation id the run's title will
 * carry, so a crash or a lost dispatch response can never leave a run tack cannot find again.
 * `run_id` is filled in once known (dispatch response, title search or a webhook) and never
 * changes after. `state` only moves forward (see stateRank), so a late or repeated delivery
 * cannot make a finished run look unfinished.
 */
import { and, desc, eq, like, lt, or, sql } from "drizzle-orm";
import type { Clock } from "../../clock.ts";
import type { Db } from "../../db/client.ts";
import { pruneBatch } from "../../db/prune-batch.ts";
import type { Tx, Writer } from "../../db/writer.ts";
import type { WorkflowId } from "../../pipeline/workflows.ts";
import { stateRank } from "./states.ts";
import { githubRuns, RUN_OPEN } from "./table.ts";

export interface GithubRun {
  correlationId: string;
  workflow: WorkflowId;
  /** The runner repository, "owner/name". */
  repo: string;
  /** The runner workflow's file name or numeric id, as the options gave it. */
  workflowFile: string;
  runId: number | null;
  htmlUrl: string | null;
  state: string | null;
  /** Unix ms of the last webhook or poll that told us anything about the run. */
  lastSeenAt: number;
  createdAt: number;
}

export class GithubRuns {
  constructor(
    private readonly db: Db,
    private readonly writer: Writer,
    private readonly clock: Clock,
  ) {}

  /** Durably records a run about to be dispatched. */
  async create(run: {
    correlationId: string;
    workflow: WorkflowId;
    repo: string;
    workflowFile: string;
  }): Promise<void> {
    const now = this.clock.now();
    await this.writer.write((tx) =>
      tx
        .insert(githubRuns)
        .values({
          correlationId: run.correlationId,
          knot: run.workflow.knot,
          pipelineRkey: run.workflow.pipelineRkey,
          workflow: run.workflow.name,
          repo: run.repo,
          workflowFile: run.workflowFile,
          lastSeenAt: now,
          createdAt: now,
        })
        .onConflictDoNothing()
        .run(),
    );
  }

  byCorrelationId(correlationId: string): GithubRun | undefined {
    const row = this.db
      .select()
      .from(githubRuns)
      .where(eq(githubRuns.correlationId, correlationId))
      .get();
    return row && toRun(row);
  }

  byRunId(runId: number): GithubRun | undefined {
    const row = this.db.select().from(githubRuns).where(eq(githubRuns.runId, runId)).get();
    return row && toRun(row);
  }

  /** The workflow's most recent dispatch (a re-spawn after a crash may have made a second). */
  latestFor(id: WorkflowId): GithubRun | undefined {
    const row = this.db
      .select()
      .from(githubRuns)
      .where(
        and(
          eq(githubRuns.knot, id.knot),
          eq(githubRuns.pipelineRkey, id.pipelineRkey),
          eq(githubRuns.workflow, id.name),
        ),
      )
      .orderBy(desc(githubRuns.createdAt))
      .get();
    return row && toRun(row);
  }

  /** Retention: drops up to `limit` runs known to be over and last seen before `cutoffMs`. */
  pruneFinishedBefore(tx: Tx, cutoffMs: number, limit: number): number {
    const finished = and(
      // Seen after created: the created_at index narrows the scan to old runs.
      lt(githubRuns.createdAt, cutoffMs),
      or(like(githubRuns.state, "completed%"), like(githubRuns.state, "tack:%")),
      lt(githubRuns.lastSeenAt, cutoffMs),
    );
    return pruneBatch(tx, githubRuns, finished, limit);
  }

  /** Runs not known to be over: the reconciler's work list. */
  open(): GithubRun[] {
    return (
      this.db
        .select()
        .from(githubRuns)
        // The partial index's own condition, literally, or SQLite will not use it.
        .where(sql.raw(RUN_OPEN))
        .all()
        .map(toRun)
    );
  }

  /**
   * Attaches the GitHub run id to a dispatch. Resolves false, changing nothing, when the row
   * already has another run or the run is already attached elsewhere (a duplicate dispatch).
   */
  link(correlationId: string, runId: number, htmlUrl: string | null): Promise<boolean> {
    return this.writer.write((tx) => {
      const row = tx
        .select()
        .from(githubRuns)
        .where(eq(githubRuns.correlationId, correlationId))
        .get();
      if (!row) return false;
      if (row.runId !== null) return row.runId === runId;
      const other = tx.select().from(githubRuns).where(eq(githubRuns.runId, runId)).get();
      if (other) return false;
      tx.update(githubRuns)
        .set({ runId, htmlUrl, lastSeenAt: this.clock.now() })
        .where(eq(githubRuns.correlationId, correlationId))
        .run();
      return true;
    });
  }

  /**
   * Records an observation inside the caller's transaction: `state` only if it moves forward,
   * `last_seen_at` always (the run is being heard from, so the reconciler can leave it alone).
   * An undefined `state` (a job event) only refreshes `last_seen_at`.
   */
  observe(tx: Tx, correlationId: string, state: string | undefined, now: number): void {
    const row = tx
      .select({ state: githubRuns.state })
      .from(githubRuns)
      .where(eq(githubRuns.correlationId, correlationId))
      .get();
    if (!row) return;
    const forward = state !== undefined && stateRank(state) >= stateRank(row.state);
    tx.update(githubRuns)
      .set(forward ? { state, lastSeenAt: now } : { lastSeenAt: now })
      .where(eq(githubRuns.correlationId, correlationId))
      .run();
  }

  /** Closes a run tack gives up on (refused dispatch, never found), so it is not polled again. */
  async close(correlationId: string, state: string): Promise<void> {
    const now = this.clock.now();
    await this.writer.write((tx) => this.observe(tx, correlationId, state, now));
  }
}

function toRun(row: typeof githubRuns.$inferSelect): GithubRun {
  return {
    correlationId: row.correlationId,
    workflow: { knot: row.knot, pipelineRkey: row.pipelineRkey, name: row.workflow },
    repo: row.repo,
    workflowFile: row.workflowFile,
    runId: row.runId,
    htmlUrl: row.htmlUrl,
    state: row.state,
    lastSeenAt: row.lastSeenAt,
    createdAt: row.createdAt,
  };
}

/** Log fields that identify a run, bound once per log line (snake_case as everywhere). */
export function runLogFields(run: GithubRun) {
  return {
    knot: run.workflow.knot,
    pipeline_rkey: run.workflow.pipelineRkey,
    workflow: run.workflow.name,
    run_id: run.runId,
    correlation_id: run.correlationId,
  };
}
