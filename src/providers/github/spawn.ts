/**
 * Starts a workflow's GitHub run, exactly once, and learns which run it is.
 *
 * Order (each step durable before the next): a correlation id recorded in github_runs (reused
 * by a later attempt) → the dispatch, through the kit's createOnce: recorded in spawn_attempts
 * first, and after a crash or an unclear answer (timeout, 5xx) the runner workflow's recent runs
 * are searched for the correlation id, waiting out GitHub's list delay, before dispatching
 * again → the run id, from the dispatch answer when GitHub returns it (return_run_details),
 * otherwise by finding the run whose title (`run-name`) carries the correlation id. Spawn looks
 * for a few seconds; the reconciler keeps looking after that, and fails the workflow if the run
 * never shows up.
 */
import type { Clock } from "../../clock.ts";
import type { Logger } from "../../log.ts";
import type { StoredWorkflow } from "../../pipeline/workflows.ts";
import { correlationIdIn, newCorrelationId } from "../correlation-id.ts";
import { ApiError } from "../http-client.ts";
import { pause } from "../pause.ts";
import type { BuildVariables } from "../provider.ts";
import type { SpawnAttempts } from "../spawn-attempts.ts";
import { createOnce } from "../spawn-once.ts";
import type { GithubRun, GithubRuns } from "./builds.ts";
import type { DispatchResult, GithubClient } from "./client.ts";
import { PROVIDER } from "./config.ts";
import { type GithubOptions, readGithubOptions } from "./options.ts";
import { dispatchInputs } from "./request.ts";
import { NOT_DISPATCHED, stateRank } from "./states.ts";
import type { RunTracker } from "./track.ts";
import type { GithubTuning } from "./tuning.ts";

/** How far before the dispatch a run's `created_at` may be (clock skew between us and GitHub). */
const CLOCK_SKEW_MS = 5 * 60_000;

export class RunDispatcher {
  constructor(
    private readonly deps: {
      client: GithubClient;
      runs: GithubRuns;
      tracker: RunTracker;
      attempts: SpawnAttempts;
      clock: Clock;
      log: Logger;
      dev: boolean;
      tuning: GithubTuning;
      signal: AbortSignal;
    },
  ) {}

  /** Resolves once GitHub accepted the dispatch; throws a message for the workflow's author. */
  async spawn(workflow: StoredWorkflow, variables: BuildVariables): Promise<void> {
    const { runs, client } = this.deps;
    const options = readGithubOptions(workflow.options);
    const workflowFile = String(options.workflow);
    const log = this.deps.log.child({
      knot: workflow.id.knot,
      pipeline_rkey: workflow.id.pipelineRkey,
      workflow: workflow.id.name,
      repo: options.repo,
    });
    const latest = runs.latestFor(workflow.id);
    if (latest && latest.runId !== null) return;
    // An open row without a run: an earlier spawn dispatched (maybe) and then tack stopped.
    const earlier = latest && stateRank(latest.state) < 2 ? latest : undefined;
    const correlationId = earlier?.correlationId ?? newCorrelationId();
    const inputs = dispatchInputs({
      workflow,
      options,
      correlationId,
      variables,
      dev: this.deps.dev,
    });
    if (!earlier) {
      await runs.create({ correlationId, workflow: workflow.id, repo: options.repo, workflowFile });
    }
    const row = runs.byCorrelationId(correlationId);
    if (!row) throw new Error("github: run record vanished before dispatch");

    let outcome: { found: true } | { found: false; result: DispatchResult };
    try {
      const ref = options.ref ?? (await client.defaultBranch(options.repo));
      outcome = await createOnce<typeof outcome>(
        {
          provider: PROVIDER,
          api: "GitHub",
          attempts: this.deps.attempts,
          clock: this.deps.clock,
          listDelayMs: this.deps.tuning.listDelayMs,
          maxAttempts: this.deps.tuning.maxDispatches,
          backoffMs: this.deps.tuning.http.backoffMs,
          signal: this.deps.signal,
        },
        workflow.id,
        {
          find: async () => ((await this.find(row)) ? { found: true } : undefined),
          create: async () => ({
            found: false,
            result: await client.dispatch(options.repo, workflowFile, { ref, inputs }),
          }),
        },
      );
    } catch (error) {
      // A refusal created nothing; after an unclear failure the reconciler may still find a run.
      if (error instanceof ApiError && error.kind === "refused") {
        await runs.close(correlationId, NOT_DISPATCHED);
      }
      throw new Error(explain(error, options), { cause: error });
    }
    if (outcome.found) {
      log.info("github: found the run an earlier dispatch started", {
        correlation_id: correlationId,
      });
      return;
    }
    const { result } = outcome;
    log.info("github: dispatched", { correlation_id: correlationId, run_id: result.runId });
    if (result.runId !== undefined) {
      await runs.link(correlationId, result.runId, result.htmlUrl ?? null);
      this.deps.tracker.wake(correlationId);
      return;
    }
    await this.discover(row, log);
  }

  /**
   * Searches the runner workflow's recent workflow_dispatch runs for the one whose title
   * carries the correlation id; links it and applies its state. False when not (yet) listed.
   */
  async find(run: GithubRun): Promise<boolean> {
    const candidates = await this.deps.client.dispatchedRuns(
      run.repo,
      run.workflowFile,
      run.createdAt - CLOCK_SKEW_MS,
    );
    const match = candidates
      .filter((candidate) => correlationIdIn(candidate.display_title) === run.correlationId)
      .sort((a, b) => a.id - b.id)[0];
    if (!match) return false;
    if (!(await this.deps.runs.link(run.correlationId, match.id, match.html_url))) return false;
    const linked = this.deps.runs.byCorrelationId(run.correlationId) ?? run;
    if (match.status !== null) {
      await this.deps.tracker.applyRun(linked, {
        status: match.status,
        conclusion: match.conclusion,
        htmlUrl: match.html_url,
      });
    }
    return true;
  }

  /**
   * The run exists on GitHub now, but GitHub did not say which: look for it a few times. A
   * failed search must not fail the workflow, so its errors are only logged and the reconciler
   * carries on.
   */
  private async discover(run: GithubRun, log: Logger): Promise<void> {
    for (const delay of this.deps.tuning.discoveryDelaysMs) {
      await pause(this.deps.clock, delay, this.deps.signal);
      if (this.deps.signal.aborted) return;
      // A webhook carrying the correlation id may have linked the run meanwhile.
      if (this.deps.runs.byCorrelationId(run.correlationId)?.runId != null) return;
      try {
        if (await this.find(run)) return;
      } catch (error) {
        log.warn("github: run search failed", { err: error, correlation_id: run.correlationId });
      }
    }
    log.info("github: run not found yet, the reconciler keeps looking", {
      correlation_id: run.correlationId,
    });
  }
}

/** The dispatch failure as the workflow's author and the operator can act on it. */
function explain(error: unknown, options: GithubOptions): string {
  const message = error instanceof Error ? error.message : String(error);
  if (!(error instanceof ApiError)) return message;
  const where = `workflow ${JSON.stringify(String(options.workflow))} in ${options.repo}`;
  switch (error.status) {
    case 404:
      return `GitHub does not know ${where}: check tack.github.repo and tack.github.workflow, that the file is on the runner repository's default branch, and that the token can see the repository: ${message}`;
    case 422:
      return `GitHub refused to dispatch ${where}: the runner workflow needs "on: workflow_dispatch" declaring the inputs correlation_id, clone_url, commit and tangled plus any tack.github.inputs, and tack.github.ref must exist: ${message}`;
    default:
      return message;
  }
}
