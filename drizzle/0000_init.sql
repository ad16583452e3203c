CREATE TABLE `events` (
	`created` integer PRIMARY KEY NOT NULL,
	`rkey` text NOT NULL,
	`nsid` text NOT NULL,
	`event` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `events_rkey_unique` ON `events` (`rkey`);--> statement-breakpoint
CREATE TABLE `workflows` (
	`knot` text NOT NULL,
	`pipeline_rkey` text NOT NULL,
	`name` text NOT NULL,
	`provider` text NOT NULL,
	`options` text NOT NULL,
	`context` text NOT NULL,
	`status` text NOT NULL,
	`error` text,
	`last_status_sec` integer NOT NULL,
	`spawned_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`knot`, `pipeline_rkey`, `name`)
);
--> statement-breakpoint
CREATE INDEX `workflows_provider_status` ON `workflows` (`provider`,`status`);