/**
 * The four inputs tack gives a runner that takes named inputs (a GitHub workflow_dispatch, a
 * GitLab pipeline's `spec: inputs:`), built from the Tangled trigger (build-target.ts). Both
 * CIs cap the number of inputs and refuse undeclared ones, so tack sends few and packs the
 * rest into one JSON input, `tangled`, with the same keys on either (docs/github.md and
 * docs/gitlab.md document them):
 * - `correlation_id`: unique per build; the runner's run name must contain it, which is how tack
 *   finds the build again when the CI does not return its id (or after a crash);
 * - `clone_url` and `commit`: what the clone step needs, without parsing JSON;
 * - `tangled`: JSON with everything else, including `env`, the build variables the core gives
 *   every build (a one-time secrets token, never a secret's value).
 */
import type { StoredWorkflow } from "../pipeline/workflows.ts";
import { buildTarget } from "./build-target.ts";
import type { BuildVariables } from "./provider.ts";

export const RESERVED_INPUTS = ["correlation_id", "clone_url", "commit", "tangled"];

/** The `tangled` input. Absent values are "". */
export interface TangledInput {
  knot: string;
  /** The repository owner's DID. */
  repo_did: string;
  repo_name: string;
  clone_url: string;
  /** The commit to build; "" for a manual run that names none (build `ref`'s head). */
  commit: string;
  /** The Tangled ref: "refs/heads/<branch>" or "refs/tags/<tag>". */
  ref: string;
  /** push, pull_request or manual. */
  event: string;
  pipeline_rkey: string;
  workflow: string;
  correlation_id: string;
  /** A fork's repository DID when the code comes from there, else "". */
  source_repo_did: string;
  source_branch: string;
  target_branch: string;
  pull_request_action: string;
  /** The AT-URI of the pull request record, when the trigger names it. */
  pull_request_uri: string;
  /** A manual trigger's inputs, as an object. */
  manual_inputs: Record<string, string>;
  /** The build variables every build receives (TACK_SECRETS_URL, TACK_SECRETS_TOKEN, …). */
  env: Record<string, string>;
}

/**
 * tack's reserved inputs for the workflow, and the manual run's inputs (each replaces the value
 * of the workflow's own input of that name). Throws when the stored context is not trigger
 * metadata.
 */
export function tackInputs(args: {
  workflow: StoredWorkflow;
  correlationId: string;
  variables: BuildVariables;
  dev: boolean;
}): { reserved: Record<string, string>; manual: Record<string, string> } {
  const target = buildTarget(args.workflow.context, args.dev);
  const manual = Object.fromEntries(target.inputs.map((input) => [input.key, input.value]));
  const tangled: TangledInput = {
    knot: target.knot,
    repo_did: target.ownerDid,
    repo_name: target.repoName ?? "",
    clone_url: target.cloneUrl,
    commit: target.commit ?? "",
    ref: target.ref ?? "",
    event: target.kind,
    pipeline_rkey: args.workflow.id.pipelineRkey,
    workflow: args.workflow.id.name,
    correlation_id: args.correlationId,
    source_repo_did: target.sourceRepoDid ?? "",
    source_branch: target.pullRequest?.sourceBranch ?? "",
    target_branch: target.pullRequest?.targetBranch ?? "",
    pull_request_action: target.pullRequest?.action ?? "",
    pull_request_uri: target.pullRequest?.pull ?? "",
    manual_inputs: manual,
    env: { ...args.variables },
  };
  const reserved = {
    correlation_id: args.correlationId,
    clone_url: tangled.clone_url,
    commit: tangled.commit,
    tangled: JSON.stringify(tangled),
  };
  return { reserved, manual };
}
