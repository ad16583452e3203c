/**
 * Owns `sourcehut_jobs` (table.ts): one row per submitted job, the reference that lets the
 * poller, /logs, cancel and completion nudges find a workflow's builds.sr.ht job.
 *
 * The row is written *before* the submit, keyed by the correlation id the job's manifest
 * carries, so a crash or a lost answer can never leave a job tack cannot find again. `job_id`
 * is filled in once known and never changes after. `state` only moves forward (stateRank), so
 * a stale poll cannot make a finished job look unfinished. The polling schedule lives here too,
 * so a restart carries on at the same pace.
 */
import { Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import {
  and,
  asc,
  desc,
  eq,
  gt,
  inArray,
  isNotNull,
  isNull,
  like,
  lt,
  lte,
  min,
  or,
  sql,
} from "drizzle-orm";
import type { Clock } from "../../clock.ts";
import type { Db } from "../../db/client.ts";
import { pruneBatch } from "../../db/prune-batch.ts";
import type { Tx, Writer } from "../../db/writer.ts";
import type { WorkflowId } from "../../pipeline/workflows.ts";
import { stateRank } from "./states.ts";
import { JOB_OPEN, sourcehutJobs } from "./table.ts";

export interface SourcehutJob {
  correlationId: string;
  workflow: WorkflowId;
  instance: string;
  note: string;
  tags: string[];
  jobId: number | null;
  state: string | null;
  cancelRequestedAt: number | null;
  nextPollAt: number;
  pollIntervalMs: number;
  lastChangeAt: number;
  createdAt: number;
}

/** What a poll learned, and when to look next. */
export interface Observation {
  /** The job's status lowercased, or undefined when it said nothing new about it. */
  state: string | undefined;
  nextPollAt: number;
  pollIntervalMs: number;
  changed: boolean;
}

const FINISHED_STATES = ["success", "failed", "timeout", "cancelled"];
const TAGS = Type.Array(Type.String());

// The partial index's own condition, literally, or SQLite will not use it; parenthesized, as
// drizzle's and() does not.
const OPEN = sql`(${sql.raw(JOB_OPEN)})`;

export class SourcehutJobs {
  constructor(
    private readonly db: Db,
    private readonly writer: Writer,
    private readonly clock: Clock,
  ) {}

  /** Durably records a job about to be submitted. */
  async create(job: {
    correlationId: string;
    workflow: WorkflowId;
    instance: string;
    note: string;
    tags: string[];
    firstPollMs: number;
  }): Promise<void> {
    const now = this.clock.now();
    await this.writer.write((tx) =>
      tx
        .insert(sourcehutJobs)
        .values({
          correlationId: job.correlationId,
          knot: job.workflow.knot,
          pipelineRkey: job.workflow.pipelineRkey,
          workflow: job.workflow.name,
          instance: job.instance,
          note: job.note,
          tags: JSON.stringify(job.tags),
          nextPollAt: now + job.firstPollMs,
          pollIntervalMs: job.firstPollMs,
          lastChangeAt: now,
          createdAt: now,
        })
        .onConflictDoNothing()
        .run(),
    );
  }

  byCorrelationId(correlationId: string): SourcehutJob | undefined {
    const row = this.db
      .select()
      .from(sourcehutJobs)
      .where(eq(sourcehutJobs.correlationId, correlationId))
      .get();
    return row && toJob(row);
  }

  byJobId(instance: string, jobId: number): SourcehutJob | undefined {
    const row = this.db
      .select()
      .from(sourcehutJobs)
      .where(and(eq(sourcehutJobs.instance, instance), eq(sourcehutJobs.jobId, jobId)))
      .get();
    return row && toJob(row);
  }

  /** The workflow's most recent job row. */
  latestFor(id: WorkflowId): SourcehutJob | undefined {
    const row = this.db
      .select()
      .from(sourcehutJobs)
      .where(
        and(
          eq(sourcehutJobs.knot, id.knot),
          eq(sourcehutJobs.pipelineRkey, id.pipelineRkey),
          eq(sourcehutJobs.workflow, id.name),
        ),
      )
      .orderBy(desc(sourcehutJobs.createdAt))
      .get();
    return row && toJob(row);
  }

  /** Jobs not known to be over: the poller's work list. */
  open(): SourcehutJob[] {
    return this.db.select().from(sourcehutJobs).where(OPEN).all().map(toJob);
  }

  /** Open jobs with a known id whose poll is due at `now`, the most overdue first. */
  due(now: number, limit: number): SourcehutJob[] {
    return this.db
      .select()
      .from(sourcehutJobs)
      .where(and(OPEN, isNotNull(sourcehutJobs.jobId), lte(sourcehutJobs.nextPollAt, now)))
      .orderBy(asc(sourcehutJobs.nextPollAt))
      .limit(limit)
      .all()
      .map(toJob);
  }

  /** The earliest scheduled poll of an open job with a known id, if any. */
  nextPollAt(): number | undefined {
    const row = this.db
      .select({ at: min(sourcehutJobs.nextPollAt) })
      .from(sourcehutJobs)
      .where(and(OPEN, isNotNull(sourcehutJobs.jobId)))
      .get();
    return row?.at ?? undefined;
  }

  /**
   * Attaches sourcehut's job id to a row. Resolves false, changing nothing, when the row has
   * another job already or the job is attached elsewhere.
   */
  link(correlationId: string, jobId: number, firstPollMs: number): Promise<boolean> {
    return this.writer.write((tx) => {
      const row = tx
        .select()
        .from(sourcehutJobs)
        .where(eq(sourcehutJobs.correlationId, correlationId))
        .get();
      if (!row) return false;
      if (row.jobId !== null) return row.jobId === jobId;
      const other = tx
        .select()
        .from(sourcehutJobs)
        .where(and(eq(sourcehutJobs.instance, row.instance), eq(sourcehutJobs.jobId, jobId)))
        .get();
      if (other) return false;
      const now = this.clock.now();
      tx.update(sourcehutJobs)
        .set({
          jobId,
          nextPollAt: now + firstPollMs,
          pollIntervalMs: firstPollMs,
          lastChangeAt: now,
        })
        .where(eq(sourcehutJobs.correlationId, correlationId))
        .run();
      return true;
    });
  }

  /**
   * Records a poll inside the caller's transaction: `state` only if it moves forward, the
   * schedule always.
   */
  observe(tx: Tx, correlationId: string, observation: Observation): void {
    const row = tx
      .select({ state: sourcehutJobs.state })
      .from(sourcehutJobs)
      .where(eq(sourcehutJobs.correlationId, correlationId))
      .get();
    if (!row) return;
    const forward =
      observation.state !== undefined && stateRank(observation.state) >= stateRank(row.state);
    const now = this.clock.now();
    tx.update(sourcehutJobs)
      .set({
        ...(forward ? { state: observation.state } : {}),
        ...(observation.changed ? { lastChangeAt: now } : {}),
        nextPollAt: observation.nextPollAt,
        pollIntervalMs: observation.pollIntervalMs,
      })
      .where(eq(sourcehutJobs.correlationId, correlationId))
      .run();
  }

  /** Moves the job's next poll forward to `at` (never later), e.g. after a nudge or a cancel. */
  async pollSoon(correlationId: string, at: number, intervalMs: number): Promise<void> {
    await this.writer.write((tx) =>
      tx
        .update(sourcehutJobs)
        .set({ nextPollAt: at, pollIntervalMs: intervalMs })
        .where(
          and(eq(sourcehutJobs.correlationId, correlationId), gt(sourcehutJobs.nextPollAt, at)),
        )
        .run(),
    );
  }

  /** Sets the job's next poll, whatever it was (a failed poll backs off). */
  async reschedule(correlationId: string, at: number, intervalMs: number): Promise<void> {
    await this.writer.write((tx) =>
      tx
        .update(sourcehutJobs)
        .set({ nextPollAt: at, pollIntervalMs: intervalMs })
        .where(eq(sourcehutJobs.correlationId, correlationId))
        .run(),
    );
  }

  /** Remembers that the workflow was cancelled while its job could not be stopped yet. */
  async requestCancel(correlationId: string): Promise<void> {
    const now = this.clock.now();
    await this.writer.write((tx) =>
      tx
        .update(sourcehutJobs)
        .set({ cancelRequestedAt: now })
        .where(
          and(
            eq(sourcehutJobs.correlationId, correlationId),
            isNull(sourcehutJobs.cancelRequestedAt),
          ),
        )
        .run(),
    );
  }

  /** Closes a job tack gives up on (refused submit, never found), so nobody polls it again. */
  async close(correlationId: string, state: string): Promise<void> {
    const now = this.clock.now();
    await this.writer.write((tx) =>
      this.observe(tx, correlationId, {
        state,
        changed: true,
        nextPollAt: now,
        pollIntervalMs: 0,
      }),
    );
  }

  /** Retention: drops up to `limit` jobs known to be over and unchanged since `cutoffMs`. */
  pruneFinishedBefore(tx: Tx, cutoffMs: number, limit: number): number {
    const finished = and(
      // Changed after created: the created_at index narrows the scan to old jobs.
      lt(sourcehutJobs.createdAt, cutoffMs),
      or(like(sourcehutJobs.state, "tack:%"), inArray(sourcehutJobs.state, FINISHED_STATES)),
      lt(sourcehutJobs.lastChangeAt, cutoffMs),
    );
    return pruneBatch(tx, sourcehutJobs, finished, limit);
  }
}

function toJob(row: typeof sourcehutJobs.$inferSelect): SourcehutJob {
  return {
    correlationId: row.correlationId,
    workflow: { knot: row.knot, pipelineRkey: row.pipelineRkey, name: row.workflow },
    instance: row.instance,
    note: row.note,
    tags: Value.Parse(TAGS, JSON.parse(row.tags)),
    jobId: row.jobId,
    state: row.state,
    cancelRequestedAt: row.cancelRequestedAt,
    nextPollAt: row.nextPollAt,
    pollIntervalMs: row.pollIntervalMs,
    lastChangeAt: row.lastChangeAt,
    createdAt: row.createdAt,
  };
}

/** Log fields that identify a job (snake_case as everywhere). */
export function jobLogFields(job: SourcehutJob) {
  return {
    knot: job.workflow.knot,
    pipeline_rkey: job.workflow.pipelineRkey,
    workflow: job.workflow.name,
    job_id: job.jobId,
    correlation_id: job.correlationId,
  };
}
