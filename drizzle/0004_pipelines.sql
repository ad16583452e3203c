CREATE TABLE `pipelines` (
	`created` integer PRIMARY KEY NOT NULL,
	`knot` text NOT NULL,
	`rkey` text NOT NULL,
	`repo` text NOT NULL,
	`kind` text NOT NULL,
	`commit_sha` text NOT NULL,
	`origin` text NOT NULL,
	`record` text NOT NULL,
	`received_at` integer NOT NULL,
	`dispatched_at` integer
);
--> statement-breakpoint
-- Pipelines knots announced before this table existed, so they stay de-duplicated and listed.
-- `created` must be unique: the millisecond they arrived, in ns, plus the row number.
INSERT INTO `pipelines`("created", "knot", "rkey", "repo", "kind", "commit_sha", "origin", "record", "received_at", "dispatched_at")
SELECT "received_at" * 1000000 + "rowid", "knot", "rkey",
  coalesce(json_extract("record", '$.triggerMetadata.repo.repoDid'), json_extract("record", '$.triggerMetadata.repo.did'), ''),
  coalesce(json_extract("record", '$.triggerMetadata.kind'), 'push'),
  coalesce(json_extract("record", '$.triggerMetadata.push.newSha'), json_extract("record", '$.triggerMetadata.pullRequest.sourceSha'), json_extract("record", '$.triggerMetadata.manual.sha'), ''),
  'knot', "record", "received_at", "dispatched_at"
FROM `triggers`;--> statement-breakpoint
CREATE UNIQUE INDEX `pipelines_knot_rkey` ON `pipelines` (`knot`,`rkey`);--> statement-breakpoint
CREATE INDEX `pipelines_rkey` ON `pipelines` (`rkey`);--> statement-breakpoint
CREATE INDEX `pipelines_repo_created` ON `pipelines` (`repo`,`created`);--> statement-breakpoint
CREATE INDEX `pipelines_repo_kind_created` ON `pipelines` (`repo`,`kind`,`created`);--> statement-breakpoint
CREATE INDEX `pipelines_repo_commit_created` ON `pipelines` (`repo`,`commit_sha`,`created`);--> statement-breakpoint
CREATE INDEX `pipelines_undispatched` ON `pipelines` (`dispatched_at`);--> statement-breakpoint
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_repos` (
	`did` text NOT NULL,
	`rkey` text NOT NULL,
	`name` text,
	`knot` text NOT NULL,
	`repo_did` text,
	PRIMARY KEY(`did`, `rkey`)
);
--> statement-breakpoint
INSERT INTO `__new_repos`("did", "rkey", "name", "knot", "repo_did") SELECT "did", "rkey", "name", "knot", NULL FROM `repos`;--> statement-breakpoint
DROP TABLE `repos`;--> statement-breakpoint
ALTER TABLE `__new_repos` RENAME TO `repos`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `repos_owner_name_knot` ON `repos` (`did`,`name`,`knot`);--> statement-breakpoint
CREATE UNIQUE INDEX `repos_repo_did` ON `repos` (`repo_did`);--> statement-breakpoint
ALTER TABLE `workflows` ADD `started_at` text;--> statement-breakpoint
ALTER TABLE `workflows` ADD `finished_at` text;--> statement-breakpoint
UPDATE `workflows` SET `started_at` = strftime('%Y-%m-%dT%H:%M:%SZ', `last_status_sec`, 'unixepoch') WHERE `status` = 'running';--> statement-breakpoint
UPDATE `workflows` SET `finished_at` = strftime('%Y-%m-%dT%H:%M:%SZ', `last_status_sec`, 'unixepoch') WHERE `status` IN ('success', 'failed', 'timeout', 'cancelled');