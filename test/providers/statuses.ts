/** The statuses published for one workflow, oldest first, as the event log holds them. */
import type { EventStore } from "../../src/eventlog/store.ts";
import type { WorkflowId } from "../../src/pipeline/workflows.ts";

export interface PublishedStatus {
  status: string;
  error?: string;
  exitCode?: number;
}

export function publishedStatuses(store: EventStore, id: WorkflowId): PublishedStatus[] {
  const pipeline = `at://did:web:${id.knot}/sh.tangled.pipeline/${id.pipelineRkey}`;
  return store
    .after(0n, 100_000)
    .map((row) => JSON.parse(row.event) as PublishedStatus & { pipeline: string; workflow: string })
    .filter((record) => record.pipeline === pipeline && record.workflow === id.name)
    .map(({ status, error, exitCode }) => ({
      status,
      ...(error === undefined ? {} : { error }),
      ...(exitCode === undefined ? {} : { exitCode }),
    }));
}
