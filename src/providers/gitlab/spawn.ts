/**
 * Creates a workflow's GitLab pipeline, exactly once, and records which pipeline it is.
 *
 * Order (each step durable before the next): a correlation id recorded in gitlab_pipelines
 * (reused by a later attempt) → the create request, through the kit's createOnce: recorded in
 * spawn_attempts first, and after a crash or an unclear answer (timeout, 5xx, a broken
 * connection) the runner project's recent pipelines are searched for the one whose name carries
 * the correlation id, waiting out GitLab's list delay, before creating again → the pipeline id
 * from the answer, stored with its first status before spawn returns.
 */
import type { Clock } from "../../clock.ts";
import type { Logger } from "../../log.ts";
import type { StoredWorkflow } from "../../pipeline/workflows.ts";
import { correlationIdIn, newCorrelationId } from "../correlation-id.ts";
import { ApiError } from "../http-client.ts";
import type { BuildVariables } from "../provider.ts";
import type { SpawnAttempts } from "../spawn-attempts.ts";
import { createOnce } from "../spawn-once.ts";
import { RESERVED_INPUTS } from "../tangled-input.ts";
import type { GitlabPipeline, GitlabPipelines } from "./builds.ts";
import type { GitlabClient } from "./client.ts";
import { PROVIDER } from "./config.ts";
import { readGitlabOptions } from "./options.ts";
import { pipelineRequest } from "./request.ts";
import type { ApiPipeline } from "./schemas.ts";
import { NOT_CREATED, stateRank } from "./states.ts";
import type { PipelineTracker } from "./track.ts";
import type { GitlabTuning } from "./tuning.ts";

/** How far before the create a pipeline's update may be (clock skew between us and GitLab). */
const CLOCK_SKEW_MS = 5 * 60_000;

export class PipelineCreator {
  constructor(
    private readonly deps: {
      client: GitlabClient;
      pipelines: GitlabPipelines;
      tracker: PipelineTracker;
      attempts: SpawnAttempts;
      clock: Clock;
      log: Logger;
      dev: boolean;
      tuning: GitlabTuning;
      defaultProject: string | undefined;
      signal: AbortSignal;
    },
  ) {}

  /** Resolves once GitLab created the pipeline; throws a message for the workflow's author. */
  async spawn(workflow: StoredWorkflow, variables: BuildVariables): Promise<void> {
    const { pipelines, client } = this.deps;
    const options = readGitlabOptions(workflow.options, this.deps.defaultProject);
    const log = this.deps.log.child({
      knot: workflow.id.knot,
      pipeline_rkey: workflow.id.pipelineRkey,
      workflow: workflow.id.name,
      project: options.project,
    });
    const latest = pipelines.latestFor(workflow.id);
    if (latest && latest.pipelineId !== null) return;
    // An open row without a pipeline: an earlier spawn created one (maybe) and then tack stopped.
    const earlier = latest && stateRank(latest.state) < 2 ? latest : undefined;
    const correlationId = earlier?.correlationId ?? newCorrelationId();

    let outcome: { found: true } | { found: false; pipeline: ApiPipeline };
    try {
      const ref = earlier?.ref ?? options.ref ?? (await this.defaultBranch(options.project));
      const body = pipelineRequest({
        workflow,
        options,
        ref,
        correlationId,
        variables,
        dev: this.deps.dev,
      });
      if (!earlier) {
        await pipelines.create({
          correlationId,
          workflow: workflow.id,
          project: options.project,
          ref,
        });
      }
      const row = pipelines.byCorrelationId(correlationId);
      if (!row) throw new Error("gitlab: pipeline record vanished before its create");
      outcome = await createOnce<typeof outcome>(
        {
          provider: PROVIDER,
          api: "GitLab",
          attempts: this.deps.attempts,
          clock: this.deps.clock,
          listDelayMs: this.deps.tuning.listDelayMs,
          maxAttempts: this.deps.tuning.maxCreates,
          backoffMs: this.deps.tuning.http.backoffMs,
          signal: this.deps.signal,
        },
        workflow.id,
        {
          find: async () => ((await this.find(row)) ? { found: true } : undefined),
          create: async () => ({
            found: false,
            pipeline: await client.createPipeline(options.project, body),
          }),
        },
      );
    } catch (error) {
      // A refusal created nothing; after an unclear failure the reconciler may still find one.
      if (error instanceof ApiError && error.kind === "refused") {
        if (pipelines.byCorrelationId(correlationId))
          await pipelines.close(correlationId, NOT_CREATED);
      }
      throw new Error(explain(error, options), { cause: error });
    }
    if (outcome.found) {
      log.info("gitlab: found the pipeline an earlier create made", {
        correlation_id: correlationId,
      });
      return;
    }
    const { pipeline } = outcome;
    log.info("gitlab: pipeline created", {
      correlation_id: correlationId,
      gitlab_pipeline_id: pipeline.id,
      web_url: pipeline.web_url,
    });
    if (correlationIdIn(pipeline.name) !== correlationId) {
      // Not fatal (the answer told us the id), but exactly-once after a crash depends on it.
      log.warn(
        "gitlab: the pipeline's name does not carry the correlation id: set workflow:name in the runner's .gitlab-ci.yml to include $[[ inputs.correlation_id ]] (docs/gitlab.md), or a crash while creating may create a second pipeline",
        { correlation_id: correlationId, name: pipeline.name ?? null },
      );
    }
    await this.adopt(correlationId, pipeline);
  }

  /**
   * Searches the runner project's recent pipelines on the row's ref for the one whose name
   * carries the correlation id; links it and applies its status. False when not (yet) listed.
   */
  async find(row: GitlabPipeline): Promise<boolean> {
    const candidates = await this.deps.client.listPipelines(
      row.project,
      row.ref,
      row.createdAt - CLOCK_SKEW_MS,
    );
    const match = candidates
      .filter((candidate) => correlationIdIn(candidate.name) === row.correlationId)
      .sort((a, b) => a.id - b.id)[0];
    if (!match) return false;
    return this.adopt(row.correlationId, match);
  }

  /** Links a pipeline GitLab reported to its row and applies its status. */
  private async adopt(correlationId: string, pipeline: ApiPipeline): Promise<boolean> {
    const linked = await this.deps.pipelines.link(correlationId, {
      id: pipeline.id,
      projectId: pipeline.project_id,
      webUrl: pipeline.web_url,
    });
    if (!linked) return false;
    const row = this.deps.pipelines.byCorrelationId(correlationId);
    if (row)
      await this.deps.tracker.applyPipeline(row, {
        status: pipeline.status,
        webUrl: pipeline.web_url,
      });
    return true;
  }

  private async defaultBranch(project: string): Promise<string> {
    const found = await this.deps.client.project(project);
    if (!found.default_branch) {
      throw new Error(
        `GitLab project ${project} has no default branch (an empty repository?): push the runner's .gitlab-ci.yml, or set tack.gitlab.ref`,
      );
    }
    return found.default_branch;
  }
}

/** A create failure as the workflow's author and the operator can act on it. */
function explain(error: unknown, options: { project: string }): string {
  const message = error instanceof Error ? error.message : String(error);
  if (!(error instanceof ApiError)) return message;
  const where = `project ${options.project}`;
  const said = (error.details.excerpt ?? "").toLowerCase();
  switch (error.status) {
    case 404:
      return `GitLab does not know ${where}, or the token cannot see it: check tack.gitlab.project and the token's access: ${message}`;
    case 403:
      return `GitLab refused to create a pipeline in ${where}: the token needs the api scope and at least the Developer role there: ${message}`;
    case 400:
    case 422:
      if (said.includes("variables"))
        return `GitLab refused the pipeline variables of tack.gitlab.variables: ${where} does not let this token's role set pipeline variables (Settings → CI/CD → Variables → "Minimum role to use pipeline variables"); pass the values as tack.gitlab.inputs instead, or allow the role: ${message}`;
      if (said.includes("reference") || said.includes("ref "))
        return `GitLab has no such branch or tag in ${where}: tack.gitlab.ref names a branch or tag of the runner project, not of the Tangled repository: ${message}`;
      if (said.includes("input"))
        return `GitLab refused the pipeline's inputs: the runner's .gitlab-ci.yml needs a "spec: inputs:" header declaring ${RESERVED_INPUTS.join(", ")} and every tack.gitlab.inputs name (GitLab 17.10 or later): ${message}`;
      return `GitLab refused to create a pipeline in ${where}: ${message}`;
    default:
      return message;
  }
}
