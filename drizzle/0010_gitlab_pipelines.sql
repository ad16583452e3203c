CREATE TABLE `gitlab_pipelines` (
	`correlation_id` text PRIMARY KEY NOT NULL,
	`knot` text NOT NULL,
	`pipeline_rkey` text NOT NULL,
	`workflow` text NOT NULL,
	`project` text NOT NULL,
	`ref` text NOT NULL,
	`project_id` integer,
	`pipeline_id` integer,
	`web_url` text,
	`state` text,
	`last_seen_at` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `gitlab_pipelines_pipeline_id_unique` ON `gitlab_pipelines` (`pipeline_id`);--> statement-breakpoint
CREATE INDEX `gitlab_pipelines_workflow` ON `gitlab_pipelines` (`knot`,`pipeline_rkey`,`workflow`);