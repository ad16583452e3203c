/**
 * What the runner workflow receives: the `inputs` of the workflow_dispatch. docs/github.md shows
 * the matching `on.workflow_dispatch.inputs` block.
 *
 * GitHub has taken at most 10 inputs per dispatch (GitHub.com now takes more, older GitHub
 * Enterprise Server does not), and refuses inputs the runner workflow does not declare. So tack
 * sends its four (../tangled-input.ts: `correlation_id`, which the runner's `run-name` must
 * contain, `clone_url`, `commit` and the `tangled` JSON, read with
 * `fromJSON(inputs.tangled).<key>`; the runner masks and exports its one-time secrets token, see
 * docs/github.md) and leaves six for the workflow's own `tack.github.inputs`. A manual run's
 * inputs are all in `tangled.manual_inputs`; one whose key is also a `tack.github.inputs` name
 * (an input the runner declares) replaces that input's value.
 */
import type { StoredWorkflow } from "../../pipeline/workflows.ts";
import type { BuildVariables } from "../provider.ts";
import { RESERVED_INPUTS, tackInputs } from "../tangled-input.ts";
import type { GithubOptions } from "./options.ts";

export const MAX_EXTRA_INPUTS = 10 - RESERVED_INPUTS.length;

/** Builds the dispatch inputs. Throws when the stored context is not trigger metadata. */
export function dispatchInputs(args: {
  workflow: StoredWorkflow;
  options: GithubOptions;
  correlationId: string;
  variables: BuildVariables;
  dev: boolean;
}): Record<string, string> {
  const { reserved, manual } = tackInputs(args);
  const inputs: Record<string, string> = {};
  for (const [name, value] of Object.entries(args.options.inputs ?? {})) {
    inputs[name] = manual[name] ?? String(value);
  }
  return Object.assign(inputs, reserved);
}
