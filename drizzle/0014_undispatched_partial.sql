DROP INDEX `pipelines_undispatched`;--> statement-breakpoint
CREATE INDEX `pipelines_undispatched` ON `pipelines` (`created`) WHERE dispatched_at IS NULL;