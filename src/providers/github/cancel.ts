/**
 * Cancels a workflow's GitHub run. GitHub cancels asynchronously (202): the `cancelled` status
 * arrives like any other, by webhook or reconciliation, and a run that finished first keeps
 * its real result. A run GitHub already finished (409) is read back so its result shows now.
 * A workflow whose run was never found has nothing to cancel on GitHub and is cancelled here.
 */
import type { Logger } from "../../log.ts";
import type { StoredWorkflow, Workflows } from "../../pipeline/workflows.ts";
import type { GithubClient } from "./client.ts";
import type { RunDispatcher } from "./dispatch.ts";
import type { RunProgress } from "./progress.ts";
import type { GithubRuns } from "./runs.ts";
import { LOST, stateRank } from "./states.ts";

export async function cancelRun(
  deps: {
    client: GithubClient;
    runs: GithubRuns;
    dispatcher: RunDispatcher;
    progress: RunProgress;
    workflows: Workflows;
    log: Logger;
  },
  workflow: StoredWorkflow,
): Promise<void> {
  let run = deps.runs.latestFor(workflow.id);
  if (run && run.runId === null && stateRank(run.state) < 2 && (await deps.dispatcher.find(run))) {
    run = deps.runs.byCorrelationId(run.correlationId);
  }
  if (!run || run.runId === null) {
    await deps.workflows.transition(workflow.id, "cancelled");
    if (run) {
      await deps.runs.close(run.correlationId, LOST);
      deps.progress.wake(run.correlationId);
    }
    return;
  }
  const outcome = await deps.client.cancel(run.repo, run.runId);
  deps.log.info("github: cancel requested", {
    knot: workflow.id.knot,
    pipeline_rkey: workflow.id.pipelineRkey,
    workflow: workflow.id.name,
    run_id: run.runId,
    outcome,
  });
  if (outcome === "requested") return;
  const observed = await deps.client.getRun(run.repo, run.runId);
  if (observed.status === null) return;
  await deps.progress.applyRun(run, {
    status: observed.status,
    conclusion: observed.conclusion,
    htmlUrl: observed.html_url,
  });
}
