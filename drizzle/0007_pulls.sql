CREATE TABLE `pull_queue` (
	`uri` text NOT NULL,
	`action` text NOT NULL,
	`patch_cid` text NOT NULL,
	`attempts` integer NOT NULL,
	`next_attempt_at` integer,
	`last_error` text,
	`received_at` integer NOT NULL,
	PRIMARY KEY(`uri`, `action`, `patch_cid`)
);
--> statement-breakpoint
CREATE TABLE `pulls` (
	`uri` text PRIMARY KEY NOT NULL,
	`author` text NOT NULL,
	`repo` text NOT NULL,
	`source_branch` text NOT NULL,
	`target_branch` text NOT NULL,
	`source_sha` text,
	`updated_at` integer NOT NULL
);
