CREATE TABLE `collaborators` (
	`did` text NOT NULL,
	`rkey` text NOT NULL,
	`subject` text NOT NULL,
	`repo` text NOT NULL,
	PRIMARY KEY(`did`, `rkey`)
);
--> statement-breakpoint
CREATE TABLE `cursors` (
	`source` text PRIMARY KEY NOT NULL,
	`cursor` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `members` (
	`did` text NOT NULL,
	`rkey` text NOT NULL,
	`subject` text NOT NULL,
	PRIMARY KEY(`did`, `rkey`)
);
--> statement-breakpoint
CREATE INDEX `members_subject` ON `members` (`subject`);--> statement-breakpoint
CREATE TABLE `repos` (
	`did` text NOT NULL,
	`rkey` text NOT NULL,
	`name` text NOT NULL,
	`knot` text NOT NULL,
	PRIMARY KEY(`did`, `rkey`)
);
--> statement-breakpoint
CREATE INDEX `repos_owner_name_knot` ON `repos` (`did`,`name`,`knot`);--> statement-breakpoint
CREATE TABLE `triggers` (
	`knot` text NOT NULL,
	`rkey` text NOT NULL,
	`record` text NOT NULL,
	`received_at` integer NOT NULL,
	`dispatched_at` integer,
	PRIMARY KEY(`knot`, `rkey`)
);
