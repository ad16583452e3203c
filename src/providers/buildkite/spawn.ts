/**
 * Starts one Buildkite build for one workflow and stores its reference before
 * returning, so every later webhook, poll, /logs and cancel can find it.
 *
 * The build carries the Tangled context twice: as env (TACK_* variables for the steps, under
 * the workflow's own `env`) and as meta_data (tack:knot, tack:pipeline_rkey, tack:workflow),
 * which Buildkite echoes in webhooks and can filter on: that is how a webhook that beats this
 * function's commit, or a build whose creation answer was lost, is still matched.
 *
 * Failures: a 4xx throws Buildkite's message (dispatch turns it into `failed`); rate limits
 * are waited out by the client; a 5xx or a network error may hide a build that was created,
 * so before trying again the pipeline is searched for a build with this workflow's meta_data.
 */
import { Value } from "@sinclair/typebox/value";
import type { Clock } from "../../clock.ts";
import type { Writer } from "../../db/writer.ts";
import type { Logger } from "../../log.ts";
import type { StoredWorkflow } from "../../pipeline/workflows.ts";
import { TriggerMetadata } from "../../tangled/lexicons.ts";
import type { BuildkiteBuilds } from "./builds.ts";
import {
  BuildkiteApiError,
  type BuildkiteClient,
  type ClientTuning,
  type CreateBuildBody,
  sleep,
} from "./client.ts";
import { type BuildkiteOptions, envOf, readOptions } from "./options.ts";
import type { BuildkiteBuild } from "./schemas.ts";
import { effectiveState } from "./states.ts";
import { META_KNOT, META_PIPELINE_RKEY, META_WORKFLOW } from "./track.ts";

export interface SpawnDeps {
  client: BuildkiteClient;
  builds: BuildkiteBuilds;
  writer: Writer;
  clock: Clock;
  log: Logger;
  defaultOrg: string;
  tuning: ClientTuning;
}

export async function spawnBuild(deps: SpawnDeps, workflow: StoredWorkflow): Promise<void> {
  // A workflow spawned again after a crash (dispatch's one window) may already have its build.
  if (deps.builds.forWorkflow(workflow.id).length > 0) return;
  const options = readOptions(workflow.options);
  const org = options.org ?? deps.defaultOrg;
  const body = buildRequest(workflow, options);
  const build = await createOnce(deps, org, options.pipeline, body);
  const now = deps.clock.now();
  await deps.writer.write((tx) =>
    deps.builds.record(
      tx,
      {
        buildUuid: build.id,
        knot: workflow.id.knot,
        pipelineRkey: workflow.id.pipelineRkey,
        workflow: workflow.id.name,
        org,
        pipeline: options.pipeline,
        number: build.number,
        webUrl: build.web_url ?? null,
        state: effectiveState(build),
      },
      now,
    ),
  );
  deps.log.info("buildkite: build created", {
    knot: workflow.id.knot,
    pipeline_rkey: workflow.id.pipelineRkey,
    workflow: workflow.id.name,
    build_uuid: build.id,
    org,
    pipeline: options.pipeline,
    number: build.number,
    web_url: build.web_url,
  });
}

/** Creates the build, never twice: after an ambiguous failure it looks before it retries. */
async function createOnce(
  deps: SpawnDeps,
  org: string,
  pipeline: string,
  body: CreateBuildBody,
): Promise<BuildkiteBuild> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await deps.client.createBuild(org, pipeline, body);
    } catch (error) {
      const ambiguous =
        error instanceof BuildkiteApiError && (error.status === 0 || error.status >= 500);
      if (!ambiguous) throw error;
      const [existing] = await deps.client
        .findBuilds(org, pipeline, body.meta_data)
        .catch((): BuildkiteBuild[] => []);
      if (existing) return existing;
      if (attempt >= deps.tuning.maxAttempts) {
        throw new Error(
          `${error.message}; gave up creating the Buildkite build after ${attempt} attempts`,
          { cause: error },
        );
      }
      await sleep(deps.clock, deps.tuning.backoffMs * 2 ** (attempt - 1));
    }
  }
}

/** The create-build body for a workflow. */
export function buildRequest(workflow: StoredWorkflow, options: BuildkiteOptions): CreateBuildBody {
  const trigger = Value.Check(TriggerMetadata, workflow.context) ? workflow.context : undefined;
  const commit = options.commit ?? commitOf(trigger);
  const branch = options.branch ?? branchOf(trigger);
  if (!commit || !branch) {
    throw new Error(
      "the trigger names no commit or branch to build; set tack.buildkite.commit and tack.buildkite.branch",
    );
  }
  const { id } = workflow;
  const tackEnv: Record<string, string> = {
    TACK_KNOT: id.knot,
    TACK_PIPELINE_RKEY: id.pipelineRkey,
    TACK_WORKFLOW: id.name,
    TACK_COMMIT: commit,
    TACK_BRANCH: branch,
    TACK_EVENT: trigger?.kind ?? "manual",
  };
  if (trigger) {
    tackEnv.TACK_REPO_DID = trigger.repo.did;
    tackEnv.TACK_REPO_NAME = trigger.repo.repo ?? "";
  }
  const body: CreateBuildBody = {
    commit,
    branch,
    message: options.message ?? messageOf(id.name, trigger, branch, commit),
    // The workflow's own env wins over tack's: it is the more specific intent.
    env: { ...tackEnv, ...envOf(options) },
    meta_data: {
      [META_KNOT]: id.knot,
      [META_PIPELINE_RKEY]: id.pipelineRkey,
      [META_WORKFLOW]: id.name,
    },
  };
  // Tangled triggers carry no pull request number, so only the base branch can be passed.
  if (trigger?.pullRequest) body.pull_request_base_branch = trigger.pullRequest.targetBranch;
  return body;
}

function commitOf(trigger: TriggerMetadata | undefined): string | undefined {
  if (!trigger) return undefined;
  if (trigger.kind === "push") return trigger.push?.newSha;
  if (trigger.kind === "pull_request") return trigger.pullRequest?.sourceSha;
  // A manual run names no commit: build the branch's head.
  return "HEAD";
}

function branchOf(trigger: TriggerMetadata | undefined): string | undefined {
  if (!trigger) return undefined;
  if (trigger.kind === "push" && trigger.push) {
    return trigger.push.ref.replace(/^refs\/(?:heads|tags)\//, "") || undefined;
  }
  if (trigger.kind === "pull_request") return trigger.pullRequest?.sourceBranch || undefined;
  return trigger.repo.defaultBranch || "main";
}

/** "ci.yml · push to main @ 3f4c1e2 · did:plc:…/app", readable in Buildkite's build list. */
function messageOf(
  workflow: string,
  trigger: TriggerMetadata | undefined,
  branch: string,
  commit: string,
): string {
  const short = /^[0-9a-f]{40}$/.test(commit) ? commit.slice(0, 7) : commit;
  const repo = trigger ? ` · ${trigger.repo.did}/${trigger.repo.repo}` : "";
  const what =
    trigger?.kind === "pull_request" && trigger.pullRequest
      ? `pull request ${trigger.pullRequest.sourceBranch} → ${trigger.pullRequest.targetBranch}`
      : trigger?.kind === "push"
        ? `push to ${branch}`
        : `manual run on ${branch}`;
  return `Tangled ${workflow} · ${what} @ ${short}${repo}`;
}
