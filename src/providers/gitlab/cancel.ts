/**
 * Stops a workflow's GitLab pipeline (`POST …/pipelines/:id/cancel`) and resolves once GitLab
 * accepted. GitLab answers 200 whatever the pipeline's state (a finished one stays as it was),
 * and a pipeline that no longer exists (404) has nothing to stop. A pipeline whose id is not
 * known yet (tack stopped between the create and its answer) is searched for first, until
 * GitLab's list delay after the create has passed; one never found has nothing to stop, and its
 * row is closed so nobody keeps looking. No status is published here: the core publishes
 * `cancelled` itself, and statuses only move forward.
 */
import type { Clock } from "../../clock.ts";
import type { StoredWorkflow } from "../../pipeline/workflows.ts";
import { CancelError } from "../provider.ts";
import { findWithin } from "../spawn-once.ts";
import type { GitlabPipelines } from "./builds.ts";
import type { GitlabClient } from "./client.ts";
import { PROVIDER } from "./config.ts";
import type { PipelineCreator } from "./spawn.ts";
import { LOST, stateRank } from "./states.ts";
import type { PipelineTracker } from "./track.ts";
import type { GitlabTuning } from "./tuning.ts";

export async function cancelPipeline(
  deps: {
    client: GitlabClient;
    pipelines: GitlabPipelines;
    creator: PipelineCreator;
    tracker: PipelineTracker;
    clock: Clock;
    tuning: GitlabTuning;
  },
  workflow: StoredWorkflow,
): Promise<void> {
  let row = deps.pipelines.latestFor(workflow.id);
  if (row && row.pipelineId === null && stateRank(row.state) < 2) {
    const open = row;
    try {
      const found = await findWithin(
        async () => ((await deps.creator.find(open)) ? true : undefined),
        {
          clock: deps.clock,
          deadline: open.createdAt + deps.tuning.listDelayMs,
          backoffMs: deps.tuning.http.backoffMs,
        },
      );
      if (found) row = deps.pipelines.byCorrelationId(open.correlationId);
    } catch (error) {
      throw cancelError(`the GitLab pipeline of ${workflow.id.name}`, error);
    }
  }
  if (!row) return;
  if (row.pipelineId === null) {
    if (stateRank(row.state) < 2) {
      await deps.pipelines.close(row.correlationId, LOST);
      deps.tracker.wake(row.correlationId);
    }
    return;
  }
  try {
    await deps.client.cancelPipeline(row.project, row.pipelineId);
  } catch (error) {
    throw cancelError(`GitLab pipeline ${row.pipelineId} in ${row.project}`, error);
  }
}

function cancelError(what: string, error: unknown): CancelError {
  return CancelError.of(
    PROVIDER,
    what,
    error,
    "the token (TACK_GITLAB_TOKEN) needs the api scope and at least the Developer role on the runner project",
  );
}
