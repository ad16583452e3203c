/**
 * Stops a workflow's GitHub run (`POST …/actions/runs/{id}/cancel`) and resolves once GitHub
 * accepted (202; GitHub cancels asynchronously) or the run had already finished (409). A run
 * whose id is not known yet is searched for first, until GitHub's list delay after the dispatch
 * has passed; one never found has nothing to stop, and its row is closed so nobody keeps looking. No status is
 * published here: the core publishes `cancelled` itself, and statuses only move forward.
 */

import type { Clock } from "../../clock.ts";
import type { StoredWorkflow } from "../../pipeline/workflows.ts";
import { CancelError } from "../provider.ts";
import { findWithin } from "../spawn-once.ts";
import type { GithubRuns } from "./builds.ts";
import type { GithubClient } from "./client.ts";
import { PROVIDER } from "./config.ts";
import type { RunDispatcher } from "./spawn.ts";
import { LOST, stateRank } from "./states.ts";
import type { RunTracker } from "./track.ts";
import type { GithubTuning } from "./tuning.ts";

export async function cancelRun(
  deps: {
    client: GithubClient;
    runs: GithubRuns;
    dispatcher: RunDispatcher;
    tracker: RunTracker;
    clock: Clock;
    tuning: GithubTuning;
  },
  workflow: StoredWorkflow,
): Promise<void> {
  let run = deps.runs.latestFor(workflow.id);
  if (run && run.runId === null && stateRank(run.state) < 2) {
    const open = run;
    try {
      // GitHub may list a fresh run only after a while: look until that has surely passed.
      const found = await findWithin(
        async () => ((await deps.dispatcher.find(open)) ? true : undefined),
        {
          clock: deps.clock,
          deadline: open.createdAt + deps.tuning.listDelayMs,
          backoffMs: deps.tuning.http.backoffMs,
        },
      );
      if (found) run = deps.runs.byCorrelationId(open.correlationId);
    } catch (error) {
      throw cancelError(`the GitHub run of ${workflow.id.name}`, error);
    }
  }
  if (!run) return;
  if (run.runId === null) {
    if (stateRank(run.state) < 2) {
      await deps.runs.close(run.correlationId, LOST);
      deps.tracker.wake(run.correlationId);
    }
    return;
  }
  try {
    await deps.client.cancel(run.repo, run.runId);
  } catch (error) {
    throw cancelError(`GitHub run ${run.runId} in ${run.repo}`, error);
  }
}

function cancelError(what: string, error: unknown): CancelError {
  return CancelError.of(
    PROVIDER,
    what,
    error,
    "the token (TACK_GITHUB_TOKEN) needs Actions read and write on the runner repository",
  );
}
