CREATE TABLE `sourcehut_jobs` (
	`correlation_id` text PRIMARY KEY NOT NULL,
	`knot` text NOT NULL,
	`pipeline_rkey` text NOT NULL,
	`workflow` text NOT NULL,
	`instance` text NOT NULL,
	`note` text NOT NULL,
	`tags` text NOT NULL,
	`job_id` integer,
	`state` text,
	`cancel_requested_at` integer,
	`next_poll_at` integer NOT NULL,
	`poll_interval_ms` integer NOT NULL,
	`last_change_at` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `sourcehut_jobs_workflow` ON `sourcehut_jobs` (`knot`,`pipeline_rkey`,`workflow`);--> statement-breakpoint
CREATE UNIQUE INDEX `sourcehut_jobs_instance_job` ON `sourcehut_jobs` (`instance`,`job_id`);--> statement-breakpoint
CREATE INDEX `sourcehut_jobs_next_poll` ON `sourcehut_jobs` (`next_poll_at`);