/**
 * Starts a workflow's GitHub run and learns which run it is.
 *
 * Order (each step durable before the next): mint a correlation id and record it in
 * github_runs → workflow_dispatch with the Tangled context as inputs → the run id, from the
 * dispatch answer when GitHub returns it (return_run_details), otherwise by finding the run
 * whose title (`run-name`) carries the correlation id. Spawn looks for a few seconds; the
 * reconciler keeps looking after that, and fails the workflow if the run never shows up.
 *
 * A workflow spawned twice (tack crashed between dispatch and marking it spawned) is not
 * dispatched twice when its first run can be found.
 */
import type { Logger } from "../../log.ts";
import type { StoredWorkflow } from "../../pipeline/workflows.ts";
import { GithubApiError, type GithubClient } from "./client.ts";
import { dispatchInputs } from "./inputs.ts";
import { type GithubOptions, readGithubOptions } from "./options.ts";
import type { RunProgress } from "./progress.ts";
import type { GithubRun, GithubRuns } from "./runs.ts";
import { NOT_DISPATCHED, stateRank } from "./states.ts";
import { type GithubTiming, sleep } from "./timing.ts";

/** How far before our own clock a run's `created_at` may be (clock skew between us and GitHub). */
const CLOCK_SKEW_MS = 5 * 60_000;
const CORRELATION_ID = /tack-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

/** The correlation id a run title carries, if any. */
export function correlationIdIn(title: string | undefined): string | undefined {
  return title === undefined ? undefined : CORRELATION_ID.exec(title)?.[0];
}

export class RunDispatcher {
  constructor(
    private readonly deps: {
      client: GithubClient;
      runs: GithubRuns;
      progress: RunProgress;
      log: Logger;
      dev: boolean;
      timing: GithubTiming;
      signal: AbortSignal;
    },
  ) {}

  /** Resolves once GitHub accepted the dispatch; throws a message for the workflow's author. */
  async spawn(workflow: StoredWorkflow): Promise<void> {
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
    if (earlier && (await this.find(earlier))) return;

    const correlationId = earlier?.correlationId ?? `tack-${crypto.randomUUID()}`;
    const inputs = dispatchInputs({
      context: workflow.context,
      workflow: workflow.id,
      correlationId,
      dev: this.deps.dev,
      extra: options.inputs,
    });
    if (!earlier) {
      await runs.create({ correlationId, workflow: workflow.id, repo: options.repo, workflowFile });
    }
    let result: Awaited<ReturnType<GithubClient["dispatch"]>>;
    try {
      const ref = options.ref ?? (await client.defaultBranch(options.repo));
      result = await client.dispatch(options.repo, workflowFile, { ref, inputs });
    } catch (error) {
      await runs.close(correlationId, NOT_DISPATCHED);
      throw new Error(explain(error, options));
    }
    log.info("github: dispatched", { correlation_id: correlationId, run_id: result.runId });

    const run = runs.byCorrelationId(correlationId);
    if (!run) throw new Error("github: run record vanished after dispatch");
    if (result.runId !== undefined) {
      await runs.link(correlationId, result.runId, result.htmlUrl ?? null);
      this.deps.progress.wake(correlationId);
      return;
    }
    // The run exists on GitHub now: a failed search must not fail the workflow, so search
    // errors are only logged and the reconciler carries on.
    for (const delay of this.deps.timing.discoveryDelaysMs) {
      await sleep(delay, this.deps.signal);
      if (this.deps.signal.aborted) return;
      // A webhook carrying the correlation id may have linked the run meanwhile.
      if (runs.byCorrelationId(correlationId)?.runId != null) return;
      try {
        if (await this.find(run)) return;
      } catch (error) {
        log.warn("github: run search failed", { err: error, correlation_id: correlationId });
      }
    }
    log.info("github: run not found yet, the reconciler keeps looking", {
      correlation_id: correlationId,
    });
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
      await this.deps.progress.applyRun(linked, {
        status: match.status,
        conclusion: match.conclusion,
        htmlUrl: match.html_url,
      });
    }
    return true;
  }
}

/** The dispatch failure as the workflow's author and the operator can act on it. */
function explain(error: unknown, options: GithubOptions): string {
  const message = error instanceof Error ? error.message : String(error);
  if (!(error instanceof GithubApiError)) return message;
  const where = `workflow ${JSON.stringify(String(options.workflow))} in ${options.repo}`;
  switch (error.status) {
    case 401:
      return `GitHub rejected the token (TACK_GITHUB_TOKEN) (${message})`;
    case 403:
      return `GitHub refused to dispatch ${where}: the token needs Actions read and write on ${options.repo} (${message})`;
    case 404:
      return `GitHub does not know ${where}: check tack.github.repo and tack.github.workflow, that the file is on the runner repository's default branch, and that the token can see the repository (${message})`;
    case 422:
      return `GitHub refused to dispatch ${where}: the runner workflow needs "on: workflow_dispatch" declaring the inputs correlation_id, clone_url, commit and tangled plus any tack.github.inputs, and tack.github.ref must exist (${message})`;
    default:
      return message;
  }
}
