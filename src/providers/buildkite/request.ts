/**
 * What a Buildkite build receives, built from the workflow's trigger and options:
 *
 * - `commit` and `branch`: the trigger's (see ../build-target.ts), unless the options say
 *   otherwise; a manual run that names no commit builds `HEAD` of its branch;
 * - `env`: tack's context variables (`TACK_*`, a manual run's inputs as `TACK_INPUT_<KEY>`),
 *   then the workflow's own `env` over them, then the core's build variables over everything
 *   (a workflow cannot replace its one-time secrets token);
 * - `meta_data`: the correlation key (tack:knot, tack:pipeline_rkey, tack:workflow), which
 *   Buildkite echoes in webhooks and filters on, and a manual run's inputs under their own keys,
 *   where `buildkite-agent meta-data get <key>` reads them as it reads a block step's fields;
 * - pull requests: the base branch and the head repository's clone URL.
 */
import type { StoredWorkflow } from "../../pipeline/workflows.ts";
import { type BuildTarget, buildTarget, contextVariables } from "../build-target.ts";
import type { BuildVariables } from "../provider.ts";
import type { CreateBuildBody } from "./client.ts";
import { type BuildkiteOptions, envOf } from "./options.ts";
import { metaDataOf } from "./track.ts";

export function buildRequest(
  workflow: StoredWorkflow,
  options: BuildkiteOptions,
  variables: BuildVariables,
  dev: boolean,
): CreateBuildBody {
  const target = buildTarget(workflow.context, dev);
  const commit = options.commit ?? target.commit ?? "HEAD";
  const branch = options.branch ?? target.branch;
  if (!branch) {
    throw new Error("the trigger names no branch to build; set tack.buildkite.branch");
  }
  const metaData: Record<string, string> = {};
  for (const { key, value } of target.inputs) {
    if (!key.startsWith("tack:")) metaData[key] = value;
  }
  const body: CreateBuildBody = {
    commit,
    branch,
    message: options.message ?? messageOf(workflow.id.name, target, branch, commit),
    env: {
      ...contextVariables(workflow.id, { ...target, commit, branch }),
      ...envOf(options),
      ...variables,
    },
    meta_data: { ...metaData, ...metaDataOf(workflow.id) },
  };
  if (target.pullRequest) {
    body.pull_request_base_branch = target.pullRequest.targetBranch;
    body.pull_request_repository = target.cloneUrl;
  }
  return body;
}

/** "Tangled ci.yml · push to main @ 3f4c1e2 · did:plc:…/app", readable in Buildkite's list. */
function messageOf(workflow: string, target: BuildTarget, branch: string, commit: string): string {
  const short = /^[0-9a-f]{40}$/.test(commit) ? commit.slice(0, 7) : commit;
  const repo = ` · ${target.ownerDid}/${target.repoName ?? target.repoDid ?? ""}`;
  const what = target.pullRequest
    ? `pull request ${target.pullRequest.sourceBranch} → ${target.pullRequest.targetBranch}`
    : target.kind === "push"
      ? `push to ${branch}`
      : `manual run on ${branch}`;
  return `Tangled ${workflow} · ${what} @ ${short}${repo}`;
}
