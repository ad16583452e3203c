CREATE TABLE `knot_collaborators` (
	`repo_did` text NOT NULL,
	`subject` text NOT NULL,
	PRIMARY KEY(`repo_did`, `subject`)
);
--> statement-breakpoint
CREATE TABLE `trigger_events` (
	`repo` text NOT NULL,
	`ref` text NOT NULL,
	`sha` text NOT NULL,
	`knot` text NOT NULL,
	`state` text NOT NULL,
	`trigger` text NOT NULL,
	`changed_files` text NOT NULL,
	`attempts` integer NOT NULL,
	`next_attempt_at` integer,
	`last_error` text,
	`fallback_rkey` text,
	`fallback` text,
	`pipeline_rkey` text,
	`received_at` integer NOT NULL,
	`finished_at` integer,
	PRIMARY KEY(`repo`, `ref`, `sha`)
);
--> statement-breakpoint
CREATE INDEX `trigger_events_state` ON `trigger_events` (`state`);--> statement-breakpoint
CREATE INDEX `trigger_events_finished_at` ON `trigger_events` (`finished_at`);