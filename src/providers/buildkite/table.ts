/**
 * The Buildkite provider's table (its owner: builds.ts). drizzle.config.ts reads this file beside
 * src/db/schema.ts.
 */
import { sql } from "drizzle-orm";
import { index, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { int } from "../../db/columns.ts";

/**
 * Builds whose last known state is not a finished one, as SQL with literal states: the partial
 * index below and the query that uses it must state it identically.
 */
export const BUILD_UNFINISHED =
  "state IS NULL OR state NOT IN ('passed', 'failed', 'canceled', 'skipped', 'not_run')";

/**
 * Owner: src/providers/buildkite/builds.ts. One Buildkite build per workflow: the reference that lets
 * webhooks, reconciliation, /logs and cancel find the build (org included, so a workflow that
 * overrides the org is looked up in the right one).
 */
export const buildkiteBuilds = sqliteTable(
  "buildkite_builds",
  {
    buildUuid: text("build_uuid").primaryKey(),
    knot: text("knot").notNull(),
    pipelineRkey: text("pipeline_rkey").notNull(),
    workflow: text("workflow").notNull(),
    org: text("org").notNull(),
    pipeline: text("pipeline").notNull(),
    number: int("number"),
    webUrl: text("web_url"),
    // Last Buildkite build state seen (scheduled, running, passed, …).
    state: text("state"),
    // Unix ms of the last webhook or poll that told us anything; drives reconciliation.
    lastSeenAt: int("last_seen_at").notNull(),
    createdAt: int("created_at").notNull(),
  },
  (table) => [
    index("buildkite_builds_workflow").on(table.knot, table.pipelineRkey, table.workflow),
    // Reconciliation's work list without reading finished work. On the creation time, which
    // never changes: sightings (last_seen_at) leave this index alone.
    index("buildkite_builds_unfinished").on(table.createdAt).where(sql.raw(BUILD_UNFINISHED)),
    // Retention: finished builds are among the old ones (a build is seen after it is created).
    index("buildkite_builds_created_at").on(table.createdAt),
  ],
);
