/**
 * The GitHub provider's table (its owner: runs.ts). drizzle.config.ts reads this file beside
 * src/db/schema.ts.
 */
import { sql } from "drizzle-orm";
import { index, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { int } from "../../db/columns.ts";

/**
 * Runs not known to be over, as SQL with literal patterns: the partial index below and the query
 * that uses it must state it identically.
 */
export const RUN_OPEN =
  "state IS NULL OR (state NOT LIKE 'completed%' AND state NOT LIKE 'tack:%')";

/**
 * Owner: src/providers/github/runs.ts. One workflow_dispatch run per workflow. `correlation_id` is
 * minted before dispatch and passed as an input; `run_id` is learned from the dispatch
 * response or by finding the run whose name carries the correlation id.
 */
export const githubRuns = sqliteTable(
  "github_runs",
  {
    correlationId: text("correlation_id").primaryKey(),
    knot: text("knot").notNull(),
    pipelineRkey: text("pipeline_rkey").notNull(),
    workflow: text("workflow").notNull(),
    // The runner repository, "owner/name", and its workflow file name or id.
    repo: text("repo").notNull(),
    workflowFile: text("workflow_file").notNull(),
    runId: int("run_id").unique(),
    htmlUrl: text("html_url"),
    // Last GitHub status/conclusion seen ("queued", "in_progress", "completed:success", …).
    state: text("state"),
    lastSeenAt: int("last_seen_at").notNull(),
    createdAt: int("created_at").notNull(),
  },
  (table) => [
    index("github_runs_workflow").on(table.knot, table.pipelineRkey, table.workflow),
    // Reconciliation's work list without reading finished work. On the creation time, which
    // never changes: sightings (last_seen_at) leave this index alone.
    index("github_runs_open").on(table.createdAt).where(sql.raw(RUN_OPEN)),
    // Retention: runs that are over are among the old ones (a run is seen after it is created).
    index("github_runs_created_at").on(table.createdAt),
  ],
);
