/**
 * What the runner workflow receives: the `inputs` of the workflow_dispatch, built from the
 * Tangled trigger (../build-target.ts). docs/github.md shows the matching
 * `on.workflow_dispatch.inputs` block.
 *
 * GitHub has taken at most 10 inputs per dispatch (GitHub.com now takes more, older GitHub
 * Enterprise Server does not), and refuses inputs the runner workflow does not declare. So tack
 * sends four, packs everything else into one JSON input, and leaves six for the workflow's own
 * `tack.github.inputs`:
 * - `correlation_id`: unique per dispatch; the runner's `run-name` must contain it, which is how
 *   tack finds the run when GitHub does not return its id;
 * - `clone_url` and `commit`: what the clone step needs, without parsing JSON;
 * - `tangled`: JSON with everything else (read it with `fromJSON(inputs.tangled).<key>`),
 *   including `env`, the build variables the core gives every build (a one-time secrets token:
 *   the runner masks it and exports it, see docs/github.md).
 * A manual run's inputs are all in `tangled.manual_inputs`; one whose key is also a
 * `tack.github.inputs` name (an input the runner declares) replaces that input's value.
 */
import type { StoredWorkflow } from "../../pipeline/workflows.ts";
import { buildTarget } from "../build-target.ts";
import type { BuildVariables } from "../provider.ts";
import type { GithubOptions } from "./options.ts";

export const RESERVED_INPUTS = ["correlation_id", "clone_url", "commit", "tangled"];
export const MAX_EXTRA_INPUTS = 10 - RESERVED_INPUTS.length;

/** The `tangled` input, keys as documented in docs/github.md. Absent values are "". */
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

/** Builds the dispatch inputs. Throws when the stored context is not trigger metadata. */
export function dispatchInputs(args: {
  workflow: StoredWorkflow;
  options: GithubOptions;
  correlationId: string;
  variables: BuildVariables;
  dev: boolean;
}): Record<string, string> {
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
  const inputs: Record<string, string> = {};
  for (const [name, value] of Object.entries(args.options.inputs ?? {})) {
    inputs[name] = manual[name] ?? String(value);
  }
  inputs.correlation_id = args.correlationId;
  inputs.clone_url = tangled.clone_url;
  inputs.commit = tangled.commit;
  inputs.tangled = JSON.stringify(tangled);
  return inputs;
}
