/**
 * The Buildkite provider's table (its owner: builds.ts). drizzle.config.ts reads this file beside
 * src/db/schema.ts.
 */
import { index, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { int } from "../../db/columns.ts";

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
  ],
);
