/**
 * The GitLab provider's table (its owner: builds.ts). drizzle.config.ts reads this file beside
 * src/db/schema.ts.
 */
import { index, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { int } from "../../db/columns.ts";

/**
 * Owner: src/providers/gitlab/builds.ts. One pipeline per workflow in the runner project.
 * `correlation_id` is minted before the create request and passed as an input the pipeline's
 * name carries; `pipeline_id` is learned from the create answer, by finding the pipeline whose
 * name carries the correlation id, or from a webhook.
 */
export const gitlabPipelines = sqliteTable(
  "gitlab_pipelines",
  {
    correlationId: text("correlation_id").primaryKey(),
    knot: text("knot").notNull(),
    pipelineRkey: text("pipeline_rkey").notNull(),
    workflow: text("workflow").notNull(),
    // The runner project as the options name it (full path or numeric id), and the branch or
    // tag of it the pipeline runs on.
    project: text("project").notNull(),
    ref: text("ref").notNull(),
    // GitLab's numeric ids, once known.
    projectId: int("project_id"),
    pipelineId: int("pipeline_id").unique(),
    webUrl: text("web_url"),
    // Last GitLab pipeline status seen (created, running, success, …) or tack's own closing.
    state: text("state"),
    lastSeenAt: int("last_seen_at").notNull(),
    createdAt: int("created_at").notNull(),
  },
  (table) => [
    index("gitlab_pipelines_workflow").on(table.knot, table.pipelineRkey, table.workflow),
  ],
);
