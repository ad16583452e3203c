/**
 * Runs the appview asks for (sh.tangled.ci.triggerPipeline): a manual run of a commit (also
 * how the appview retries a pipeline), or a fork's pull request. The caller has already been
 * authenticated and found to have push rights on the repo.
 *
 * The workflow files are read at the commit from the repo's knot, or for a fork from the
 * fork's (a repo this spindle serves, or one whose DID document names its knot). A manual run
 * takes every file (or those the caller lists); a pull request matches each file's `when:` with
 * the pull request rules. The run is a new pipeline, published and dispatched like any other;
 * every call is a run of its own (a retry runs again).
 */
import type { IdentityResolver } from "../atproto/identity.ts";
import type { Logger } from "../log.ts";
import type { PublicHosts } from "../net/public-hosts.ts";
import { ForkSourceError, forkAtKnot } from "../tangled/fork-source.ts";
import { KnotXrpcError } from "../tangled/knot-xrpc.ts";
import type { TriggerMetadata } from "../tangled/lexicons.ts";
import type { Membership, TrackedRepo } from "../tangled/membership.ts";
import {
  type RepoAtKnot,
  repoAtKnot,
  type WorkflowFiles,
  WorkflowFilesBusyError,
} from "../tangled/workflow-files.ts";
import { compileWorkflows } from "./compile.ts";
import type { Pipelines, StoredPipeline } from "./pipelines.ts";
import { triggerRepo } from "./push-intake.ts";
import type { PipelineRunner } from "./runner.ts";

export type RunRequest =
  | {
      kind: "manual";
      sha: string;
      ref?: string;
      inputs?: { key: string; value: string }[];
      sourceRepo?: string;
    }
  | {
      kind: "pull_request";
      sha: string;
      targetBranch: string;
      sourceBranch?: string;
      sourceRepo?: string;
      pull?: string;
    };

/** Why a run cannot be made; `status` is the HTTP status the caller should answer. */
export class RunRefusedError extends Error {
  constructor(
    readonly status: 400 | 502 | 503,
    message: string,
  ) {
    super(message);
  }
}

export class ManualRuns {
  private readonly log: Logger;

  constructor(
    private readonly deps: {
      pipelines: Pipelines;
      runner: PipelineRunner;
      membership: Membership;
      workflowFiles: WorkflowFiles;
      identities: IdentityResolver;
      publicHosts: PublicHosts;
      log: Logger;
    },
  ) {
    this.log = deps.log.child({ component: "manual-runs" });
  }

  async run(
    repo: TrackedRepo,
    request: RunRequest,
    only: string[] | undefined,
    actor: string,
  ): Promise<StoredPipeline> {
    const fork =
      request.sourceRepo && request.sourceRepo !== repo.repoDid ? request.sourceRepo : undefined;
    const source = fork ? await this.fork(fork) : repoAtKnot(repo);
    const target = repoAtKnot(repo);
    const [files, defaultBranch] = await Promise.all([
      this.read(() => this.deps.workflowFiles.load(source, request.sha), request.sha),
      this.deps.workflowFiles.defaultBranch(target),
    ]);
    const trigger: TriggerMetadata = {
      ...triggerOf(request),
      repo: { ...triggerRepo(repo), defaultBranch },
      ...(fork ? { sourceRepo: fork } : {}),
    };
    const compiled = compileWorkflows(files, trigger);
    const workflows = only?.length
      ? compiled.workflows.filter((workflow) => only.includes(workflow.name))
      : compiled.workflows;
    if (workflows.length === 0) throw new RunRefusedError(400, "no workflows to run");
    const pipeline = await this.deps.pipelines.create({ triggerMetadata: trigger, workflows });
    this.log.info("run: pipeline created", {
      repo: repo.repoDid ?? repo.did,
      kind: request.kind,
      sha: request.sha,
      actor,
      pipeline_rkey: pipeline.rkey,
      workflows: workflows.length,
    });
    this.deps.runner.run(pipeline);
    return pipeline;
  }

  private async fork(fork: string): Promise<RepoAtKnot> {
    try {
      return await forkAtKnot(fork, this.deps);
    } catch (error) {
      if (error instanceof ForkSourceError) {
        throw new RunRefusedError(error.retryable ? 502 : 400, error.message);
      }
      throw error;
    }
  }

  private async read<T>(load: () => Promise<T>, sha: string): Promise<T> {
    try {
      return await load();
    } catch (error) {
      if (error instanceof WorkflowFilesBusyError) throw new RunRefusedError(503, error.message);
      if (error instanceof KnotXrpcError) {
        if (error.xrpcError === "RefNotFound") {
          throw new RunRefusedError(400, `commit ${sha} is not in the repo`);
        }
        throw new RunRefusedError(
          error.retryable ? 502 : 400,
          `cannot read the workflows: ${error.message}`,
        );
      }
      throw error;
    }
  }
}

function triggerOf(request: RunRequest): Omit<TriggerMetadata, "repo"> {
  if (request.kind === "manual") {
    return {
      kind: "manual",
      manual: {
        sha: request.sha,
        ...(request.ref ? { ref: request.ref } : {}),
        ...(request.inputs?.length ? { inputs: request.inputs } : {}),
      },
    };
  }
  return {
    kind: "pull_request",
    pullRequest: {
      sourceBranch: request.sourceBranch ?? "",
      targetBranch: request.targetBranch,
      sourceSha: request.sha,
      ...(request.pull ? { pull: request.pull } : {}),
    },
  };
}
