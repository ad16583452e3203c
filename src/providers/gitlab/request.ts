/**
 * What the runner pipeline receives: the `inputs` (and, when the workflow asks, `variables`) of
 * the create-pipeline request. docs/gitlab.md shows the matching `spec: inputs:` header of the
 * runner's .gitlab-ci.yml.
 *
 * Inputs, not pipeline variables, carry tack's part: GitLab locks pipeline variables down by
 * default on new projects (and a request with variables is then refused outright), while inputs
 * are declared by the project itself and always accepted. GitLab takes at most 20 inputs per
 * pipeline and refuses undeclared ones, so tack sends its four (../tangled-input.ts:
 * `correlation_id`, which the runner's `workflow:name` must contain, `clone_url`, `commit` and
 * the `tangled` JSON) and leaves sixteen for the workflow's own `tack.gitlab.inputs`.
 * A manual run's inputs are all in `tangled.manual_inputs`; one whose key is also a
 * `tack.gitlab.inputs` or `tack.gitlab.variables` name replaces that value.
 */
import type { StoredWorkflow } from "../../pipeline/workflows.ts";
import type { BuildVariables } from "../provider.ts";
import { RESERVED_INPUTS, tackInputs } from "../tangled-input.ts";
import type { GitlabOptions } from "./options.ts";

export const MAX_EXTRA_INPUTS = 20 - RESERVED_INPUTS.length;

type Scalar = string | number | boolean;
export type InputValue = Scalar | Scalar[];

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
  const { reserved, manual } = tackInputs(args);
  const inputs: Record<string, InputValue> = {};
  for (const [name, value] of Object.entries(args.options.inputs ?? {})) {
    const given = manual[name];
    inputs[name] = given === undefined ? value : like(value, given);
  }
  Object.assign(inputs, reserved);
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
