CREATE TABLE `spawn_attempts` (
	`provider` text NOT NULL,
	`knot` text NOT NULL,
	`pipeline_rkey` text NOT NULL,
	`workflow` text NOT NULL,
	`attempts` integer NOT NULL,
	`last_attempt_at` integer NOT NULL,
	PRIMARY KEY(`provider`, `knot`, `pipeline_rkey`, `workflow`)
);
--> statement-breakpoint
CREATE INDEX `spawn_attempts_last_attempt_at` ON `spawn_attempts` (`last_attempt_at`);