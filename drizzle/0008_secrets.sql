CREATE TABLE `secret_tokens` (
	`token_hash` text PRIMARY KEY NOT NULL,
	`knot` text NOT NULL,
	`pipeline_rkey` text NOT NULL,
	`workflow` text NOT NULL,
	`repo_did` text NOT NULL,
	`expires_at` integer NOT NULL,
	`used_at` integer
);
--> statement-breakpoint
CREATE INDEX `secret_tokens_expires_at` ON `secret_tokens` (`expires_at`);--> statement-breakpoint
CREATE TABLE `secrets` (
	`repo_did` text NOT NULL,
	`key` text NOT NULL,
	`sealed` blob NOT NULL,
	`created_at` text NOT NULL,
	`created_by` text NOT NULL,
	PRIMARY KEY(`repo_did`, `key`)
);
