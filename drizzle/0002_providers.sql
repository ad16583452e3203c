CREATE TABLE `buildkite_builds` (
	`build_uuid` text PRIMARY KEY NOT NULL,
	`knot` text NOT NULL,
	`pipeline_rkey` text NOT NULL,
	`workflow` text NOT NULL,
	`org` text NOT NULL,
	`pipeline` text NOT NULL,
	`number` integer,
	`web_url` text,
	`state` text,
	`last_seen_at` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `buildkite_builds_workflow` ON `buildkite_builds` (`knot`,`pipeline_rkey`,`workflow`);--> statement-breakpoint
CREATE TABLE `github_runs` (
	`correlation_id` text PRIMARY KEY NOT NULL,
	`knot` text NOT NULL,
	`pipeline_rkey` text NOT NULL,
	`workflow` text NOT NULL,
	`repo` text NOT NULL,
	`workflow_file` text NOT NULL,
	`run_id` integer,
	`html_url` text,
	`state` text,
	`last_seen_at` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `github_runs_run_id_unique` ON `github_runs` (`run_id`);--> statement-breakpoint
CREATE INDEX `github_runs_workflow` ON `github_runs` (`knot`,`pipeline_rkey`,`workflow`);--> statement-breakpoint
CREATE TABLE `webhook_deliveries` (
	`provider` text NOT NULL,
	`delivery_id` text NOT NULL,
	`received_at` integer NOT NULL,
	PRIMARY KEY(`provider`, `delivery_id`)
);
--> statement-breakpoint
CREATE INDEX `webhook_deliveries_received_at` ON `webhook_deliveries` (`received_at`);