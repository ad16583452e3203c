CREATE TABLE `workflow_counts` (
	`status` text PRIMARY KEY NOT NULL,
	`count` integer NOT NULL
);
--> statement-breakpoint
DROP INDEX `workflows_provider_status`;--> statement-breakpoint
CREATE INDEX `workflows_unfinished` ON `workflows` (`provider`,`status`) WHERE status IN ('pending', 'running');--> statement-breakpoint
CREATE INDEX `workflows_finished_updated_at` ON `workflows` (`updated_at`) WHERE NOT (status IN ('pending', 'running'));--> statement-breakpoint
DROP INDEX `sourcehut_jobs_next_poll`;--> statement-breakpoint
CREATE INDEX `sourcehut_jobs_open_next_poll` ON `sourcehut_jobs` (`next_poll_at`) WHERE state IS NULL OR (state NOT LIKE 'tack:%' AND state NOT IN ('success', 'failed', 'timeout', 'cancelled'));--> statement-breakpoint
CREATE INDEX `sourcehut_jobs_created_at` ON `sourcehut_jobs` (`created_at`);--> statement-breakpoint
CREATE INDEX `pipelines_received_at` ON `pipelines` (`received_at`);--> statement-breakpoint
CREATE INDEX `pipelines_tack_rkey` ON `pipelines` (`rkey`) WHERE origin = 'tack';--> statement-breakpoint
CREATE INDEX `buildkite_builds_unfinished` ON `buildkite_builds` (`created_at`) WHERE state IS NULL OR state NOT IN ('passed', 'failed', 'canceled', 'skipped', 'not_run');--> statement-breakpoint
CREATE INDEX `buildkite_builds_created_at` ON `buildkite_builds` (`created_at`);--> statement-breakpoint
CREATE INDEX `github_runs_open` ON `github_runs` (`created_at`) WHERE state IS NULL OR (state NOT LIKE 'completed%' AND state NOT LIKE 'tack:%');--> statement-breakpoint
CREATE INDEX `github_runs_created_at` ON `github_runs` (`created_at`);--> statement-breakpoint
CREATE INDEX `gitlab_pipelines_open` ON `gitlab_pipelines` (`created_at`) WHERE state IS NULL OR (state NOT IN ('success', 'failed', 'canceled', 'skipped') AND state NOT LIKE 'tack:%');--> statement-breakpoint
CREATE INDEX `gitlab_pipelines_created_at` ON `gitlab_pipelines` (`created_at`);
--> statement-breakpoint
INSERT INTO `workflow_counts` (`status`, `count`)
  SELECT `value`, (SELECT count(*) FROM `workflows` WHERE `status` = `value`)
  FROM json_each('["success","failed","timeout","cancelled"]');--> statement-breakpoint
CREATE TRIGGER `workflow_counts_insert` AFTER INSERT ON `workflows`
  WHEN NOT (NEW.`status` IN ('pending', 'running')) BEGIN
  UPDATE `workflow_counts` SET `count` = `count` + 1 WHERE `status` = NEW.`status`;
END;--> statement-breakpoint
CREATE TRIGGER `workflow_counts_update` AFTER UPDATE OF `status` ON `workflows`
  WHEN OLD.`status` <> NEW.`status` AND NOT (NEW.`status` IN ('pending', 'running')) BEGIN
  UPDATE `workflow_counts` SET `count` = `count` + (CASE WHEN `status` = NEW.`status` THEN 1 ELSE -1 END)
    WHERE `status` IN (OLD.`status`, NEW.`status`);
END;--> statement-breakpoint
CREATE TRIGGER `workflow_counts_delete` AFTER DELETE ON `workflows`
  WHEN NOT (OLD.`status` IN ('pending', 'running')) BEGIN
  UPDATE `workflow_counts` SET `count` = `count` - 1 WHERE `status` = OLD.`status`;
END;
