/**
 * The sourcehut provider's table (its owner: builds.ts). drizzle.config.ts reads this file beside
 * src/db/schema.ts.
 */
import { sql } from "drizzle-orm";
import { index, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { int } from "../../db/columns.ts";

/**
 * Jobs not known to be over, as SQL with literal states: the partial index below and the
 * queries that use it must state it identically.
 */
export const JOB_OPEN =
  "state IS NULL OR (state NOT LIKE 'tack:%' AND state NOT IN ('success', 'failed', 'timeout', 'cancelled'))";

/**
 * Owner: src/providers/sourcehut/builds.ts. One builds.sr.ht job per workflow. The row is
 * written before the job is submitted, keyed by the correlation id the job's manifest carries
 * (TACK_CORRELATION_ID); `job_id` is filled in once sourcehut answered or the job was found.
 * sourcehut has no webhooks tack can rely on, so the row also holds the job's polling
 * schedule, which survives restarts.
 */
export const sourcehutJobs = sqliteTable(
  "sourcehut_jobs",
  {
    correlationId: text("correlation_id").primaryKey(),
    knot: text("knot").notNull(),
    pipelineRkey: text("pipeline_rkey").notNull(),
    workflow: text("workflow").notNull(),
    // The builds.sr.ht base URL the job was submitted to.
    instance: text("instance").notNull(),
    // The note and tags (JSON array) submitted: how a job is recognised in sourcehut's list.
    note: text("note").notNull(),
    tags: text("tags").notNull(),
    jobId: int("job_id"),
    // Last job status seen, lowercased ("queued", "running", "success", …), or tack's own
    // closing states ("tack:not_submitted", "tack:lost").
    state: text("state"),
    // Unix ms when a cancel was asked while the job could not be cancelled yet (queued).
    cancelRequestedAt: int("cancel_requested_at"),
    // When to poll next and the current interval (it grows while nothing changes).
    nextPollAt: int("next_poll_at").notNull(),
    pollIntervalMs: int("poll_interval_ms").notNull(),
    // Unix ms of the last poll that saw the job change.
    lastChangeAt: int("last_change_at").notNull(),
    createdAt: int("created_at").notNull(),
  },
  (table) => [
    index("sourcehut_jobs_workflow").on(table.knot, table.pipelineRkey, table.workflow),
    uniqueIndex("sourcehut_jobs_instance_job").on(table.instance, table.jobId),
    // Polling walks open jobs only, by next poll: finished ones are neither read nor indexed.
    index("sourcehut_jobs_open_next_poll").on(table.nextPollAt).where(sql.raw(JOB_OPEN)),
    // Retention: finished jobs are among the old ones (a job changes after it is created).
    index("sourcehut_jobs_created_at").on(table.createdAt),
  ],
);
