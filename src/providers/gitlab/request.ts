/**
 * What the runner pipeline receives: the `inputs` (and, when the workflow asks, `variables`) of
 * the create-pipeline request, built from the Tangled trigger (../build-target.ts).
 * docs/gitlab.md shows the matching `spec: inputs:` header of the runner's .gitlab-ci.yml.
 *
 * Inputs, not pipeline variables, carry tack's part: GitLab locks pipeline variables down by
 * default on new projects (and a request with variables is then refused outright), while inputs
 * are declared by the project itself and always accepted. GitLab takes at most 20 inputs per
 * pipeline and refuses undeclared ones, so tack sends four and packs everything else into one
 * JSON input, leaving sixteen for the workflow's own `tack.gitlab.inputs`:
 * - `correlation_id`: unique per pipeline; the runner's `workflow:name` must contain it, which is
 *   how tack finds the pipeline again after a crash or an unclear answer;
 * - `clone_url` and `commit`: what the clone step needs, without parsing JSON;
 * - `tangled`: JSON with everything else, including `env`, the build variables the core gives
 *   every build (a one-time secrets token, never a secret's value).
 * A manual run's inputs are all in `tangled.manual_inputs`; one whose key is also a
 * `tack.gitlab.inputs` or `tack.gitlab.variables` name replaces that value.
 */
import type { StoredWorkflow } from "../../pipeline/workflows.ts";
import { buildTarget } from "../build-target.ts";
import type { BuildVariables } from "../provider.ts";
import type { GitlabOptions } from "./options.ts";

export const RESERVED_INPUTS = ["correlation_id", "clone_url", "commit", "tangled"];
export const MAX_EXTRA_INPUTS = 20 - RESERVED_INPUTS.length;

type Scalar = string | number | boolean;
export type InputValue = Scalar | Scalar[];

/** The `tangled` input, keys as documented in docs/gitlab.md. Absent values are "". */
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

export interface CreatePipelineBody {
  ref: string;
  inputs: Record<string, InputValue>;
  variables?: { key: string; value: string; variable_type: "env_var" }[];
}

/** Builds the create-pipeline body. Throws when the stored context is not trigger metadata. */
export function pipelineRequest(args: {
  workflow: StoredWorkflow;
  options: GitlabOptions;
  ref: string;
  correlationId: string;
  variables: BuildVariables;
  dev: boolean;
}): CreatePipelineBody {
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
  const inputs: Record<string, InputValue> = {};
  for (const [name, value] of Object.entries(args.options.inputs ?? {})) {
    const given = manual[name];
    inputs[name] = given === undefined ? value : like(value, given);
  }
  inputs.correlation_id = args.correlationId;
  inputs.clone_url = tangled.clone_url;
  inputs.commit = tangled.commit;
  inputs.tangled = JSON.stringify(tangled);
  const body: CreatePipelineBody = { ref: args.ref, inputs };
  const variables = Object.entries(args.options.variables ?? {}).map(([key, value]) => ({
    key,
    value: manual[key] ?? String(value),
    variable_type: "env_var" as const,
  }));
  // Sent only when asked for: a project that forbids pipeline variables refuses any request
  // carrying them, even an empty list.
  if (variables.length > 0) body.variables = variables;
  return body;
}

/**
 * A manual run's value (always text) in the type the workflow's own value has: GitLab checks a
 * number or boolean input's type, so "3" for a number input is sent as 3.
 */
function like(declared: InputValue, given: string): InputValue {
  if (typeof declared === "number") {
    const number = Number(given);
    return given.trim() !== "" && Number.isFinite(number) ? number : given;
  }
  if (typeof declared === "boolean") {
    if (given === "true") return true;
    if (given === "false") return false;
    return given;
  }
  if (Array.isArray(declared)) {
    try {
      const parsed: unknown = JSON.parse(given);
      if (Array.isArray(parsed))
        return parsed.map((item) => (isScalar(item) ? item : String(item)));
    } catch {}
    return [given];
  }
  return given;
}

function isScalar(value: unknown): value is Scalar {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}
