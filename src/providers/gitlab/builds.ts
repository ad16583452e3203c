/**
 * Owns `gitlab_pipelines` (table.ts): one row per pipeline tack asked for, the reference that
 * lets webhooks, reconciliation, /logs and cancel find a workflow's GitLab pipeline.
 *
 * The row is written *before* the create request, keyed by the correlation id the pipeline's
 * name will carry, so a crash or a lost answer can never leave a pipeline tack cannot find
 * again. `pipeline_id` is filled in once known (the create answer, a search by name, or a
 * webhook) and never changes after. `state` only moves forward (see stateRank), so a late or
 * repeated delivery cannot make a finished pipeline look unfinished.
 */
import { and, desc, eq, inArray, isNull, like, lt, notInArray, notLike, or } from "drizzle-orm";
import type { Clock } from "../../clock.ts";
import type { Db } from "../../db/client.ts";
import { pruneBatch } from "../../db/prune-batch.ts";
import type { Tx, Writer } from "../../db/writer.ts";
import type { WorkflowId } from "../../pipeline/workflows.ts";
import { stateRank } from "./states.ts";
import { gitlabPipelines } from "./table.ts";

export interface GitlabPipeline {
  correlationId: string;
  workflow: WorkflowId;
  /** The runner project as the options name it (full path or numeric id). */
  project: string;
  ref: string;
  projectId: number | null;
  pipelineId: number | null;
  webUrl: string | null;
  state: string | null;
  /** Unix ms of the last webhook or poll that told us anything about the pipeline. */
  lastSeenAt: number;
  createdAt: number;
}

const FINISHED = ["success", "failed", "canceled", "skipped"];

export class GitlabPipelines {
  constructor(
    private readonly db: Db,
    private readonly writer: Writer,
    private readonly clock: Clock,
  ) {}

  /** Durably records a pipeline about to be created. */
  async create(row: {
    correlationId: string;
    workflow: WorkflowId;
    project: string;
    ref: string;
  }): Promise<void> {
    const now = this.clock.now();
    await this.writer.write((tx) =>
      tx
        .insert(gitlabPipelines)
        .values({
          correlationId: row.correlationId,
          knot: row.workflow.knot,
          pipelineRkey: row.workflow.pipelineRkey,
          workflow: row.workflow.name,
          project: row.project,
          ref: row.ref,
          lastSeenAt: now,
          createdAt: now,
        })
        .onConflictDoNothing()
        .run(),
    );
  }

  byCorrelationId(correlationId: string): GitlabPipeline | undefined {
    const row = this.db
      .select()
      .from(gitlabPipelines)
      .where(eq(gitlabPipelines.correlationId, correlationId))
      .get();
    return row && toPipeline(row);
  }

  byPipelineId(pipelineId: number): GitlabPipeline | undefined {
    const row = this.db
      .select()
      .from(gitlabPipelines)
      .where(eq(gitlabPipelines.pipelineId, pipelineId))
      .get();
    return row && toPipeline(row);
  }

  /** The workflow's most recent pipeline row (a re-spawn after a crash reuses it). */
  latestFor(id: WorkflowId): GitlabPipeline | undefined {
    const row = this.db
      .select()
      .from(gitlabPipelines)
      .where(
        and(
          eq(gitlabPipelines.knot, id.knot),
          eq(gitlabPipelines.pipelineRkey, id.pipelineRkey),
          eq(gitlabPipelines.workflow, id.name),
        ),
      )
      .orderBy(desc(gitlabPipelines.createdAt))
      .get();
    return row && toPipeline(row);
  }

  /** Pipelines not known to be over: the reconciler's work list. */
  open(): GitlabPipeline[] {
    return this.db
      .select()
      .from(gitlabPipelines)
      .where(
        or(
          isNull(gitlabPipelines.state),
          and(
            notInArray(gitlabPipelines.state, FINISHED),
            notLike(gitlabPipelines.state, "tack:%"),
          ),
        ),
      )
      .all()
      .map(toPipeline);
  }

  /** The runner projects of the most recent pipelines, newest first (for `tack check`). */
  recentProjects(limit: number): string[] {
    const rows = this.db
      .select({ project: gitlabPipelines.project })
      .from(gitlabPipelines)
      .orderBy(desc(gitlabPipelines.createdAt))
      .limit(200)
      .all();
    return [...new Set(rows.map((row) => row.project))].slice(0, limit);
  }

  /** Retention: drops up to `limit` pipelines known to be over and last seen before `cutoffMs`. */
  pruneFinishedBefore(tx: Tx, cutoffMs: number, limit: number): number {
    const finished = and(
      or(inArray(gitlabPipelines.state, FINISHED), like(gitlabPipelines.state, "tack:%")),
      lt(gitlabPipelines.lastSeenAt, cutoffMs),
    );
    return pruneBatch(tx, gitlabPipelines, finished, limit);
  }

  /**
   * Attaches GitLab's ids to a row. Resolves false, changing nothing, when the row already has
   * another pipeline or the pipeline is already attached elsewhere (a duplicate create).
   */
  link(
    correlationId: string,
    pipeline: { id: number; projectId: number; webUrl: string | null },
  ): Promise<boolean> {
    return this.writer.write((tx) => {
      const row = tx
        .select()
        .from(gitlabPipelines)
        .where(eq(gitlabPipelines.correlationId, correlationId))
        .get();
      if (!row) return false;
      if (row.pipelineId !== null) return row.pipelineId === pipeline.id;
      const other = tx
        .select()
        .from(gitlabPipelines)
        .where(eq(gitlabPipelines.pipelineId, pipeline.id))
        .get();
      if (other) return false;
      tx.update(gitlabPipelines)
        .set({
          pipelineId: pipeline.id,
          projectId: pipeline.projectId,
          webUrl: pipeline.webUrl,
          lastSeenAt: this.clock.now(),
        })
        .where(eq(gitlabPipelines.correlationId, correlationId))
        .run();
      return true;
    });
  }

  /**
   * Records an observation inside the caller's transaction: `state` only if it moves forward,
   * `last_seen_at` always (the pipeline is being heard from, so the reconciler can leave it
   * alone). An undefined `state` (a job event) only refreshes `last_seen_at`.
   */
  observe(tx: Tx, correlationId: string, state: string | undefined, now: number): void {
    const row = tx
      .select({ state: gitlabPipelines.state })
      .from(gitlabPipelines)
      .where(eq(gitlabPipelines.correlationId, correlationId))
      .get();
    if (!row) return;
    const forward = state !== undefined && stateRank(state) >= stateRank(row.state);
    tx.update(gitlabPipelines)
      .set(forward ? { state, lastSeenAt: now } : { lastSeenAt: now })
      .where(eq(gitlabPipelines.correlationId, correlationId))
      .run();
  }

  /** Closes a row tack gives up on (refused create, never found), so it is not polled again. */
  async close(correlationId: string, state: string): Promise<void> {
    const now = this.clock.now();
    await this.writer.write((tx) => this.observe(tx, correlationId, state, now));
  }
}

function toPipeline(row: typeof gitlabPipelines.$inferSelect): GitlabPipeline {
  return {
    correlationId: row.correlationId,
    workflow: { knot: row.knot, pipelineRkey: row.pipelineRkey, name: row.workflow },
    project: row.project,
    ref: row.ref,
    projectId: row.projectId,
    pipelineId: row.pipelineId,
    webUrl: row.webUrl,
    state: row.state,
    lastSeenAt: row.lastSeenAt,
    createdAt: row.createdAt,
  };
}

/** Log fields that identify a pipeline, bound once per log line (snake_case as everywhere). */
export function pipelineLogFields(pipeline: GitlabPipeline) {
  return {
    knot: pipeline.workflow.knot,
    pipeline_rkey: pipeline.workflow.pipelineRkey,
    workflow: pipeline.workflow.name,
    project: pipeline.project,
    gitlab_pipeline_id: pipeline.pipelineId,
    correlation_id: pipeline.correlationId,
  };
}
