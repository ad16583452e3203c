/**
 * What the runner workflow receives: the `inputs` of the workflow_dispatch, built from the
 * Tangled trigger. docs/github.md shows the matching `on.workflow_dispatch.inputs` block.
 *
 * GitHub has taken at most 10 inputs per dispatch (GitHub.com now takes more, older GitHub
 * Enterprise Server does not), so tack sends four and packs the full context into one JSON input:
 * - `correlation_id`: unique per dispatch; the runner's `run-name` must contain it, which is how
 *   tack finds the run when GitHub does not return its id;
 * - `clone_url` and `commit`: what the clone step needs, without parsing JSON;
 * - `tangled`: JSON with everything else (read it with `fromJSON(inputs.tangled).<key>`).
 * That leaves six for the workflow's own `tack.github.inputs`.
 */
import { Value } from "@sinclair/typebox/value";
import type { JsonValue } from "../../eventlog/canonical-json.ts";
import type { WorkflowId } from "../../pipeline/workflows.ts";
import { TriggerMetadata } from "../../tangled/lexicons.ts";

export const RESERVED_INPUTS = ["correlation_id", "clone_url", "commit", "tangled"];
export const MAX_EXTRA_INPUTS = 10 - RESERVED_INPUTS.length;

/** The `tangled` input, keys as documented in docs/github.md. Absent values are "". */
export interface TangledInput {
  knot: string;
  repo_did: string;
  repo_name: string;
  clone_url: string;
  /** The commit to build: the pushed or PR head sha; "" for a manual trigger (default branch). */
  commit: string;
  /** The Tangled ref: "refs/heads/<branch>" or "refs/tags/<tag>". */
  ref: string;
  /** push, pull_request or manual. */
  event: string;
  pipeline_rkey: string;
  workflow: string;
  correlation_id: string;
  source_branch: string;
  target_branch: string;
  pull_request_action: string;
  /** A manual trigger's inputs, as an object. */
  manual_inputs: Record<string, string>;
}

/**
 * Builds the dispatch inputs. Throws when the stored trigger context is not a trigger's
 * metadata (only possible for workflows created outside the knot path, e.g. by hand).
 */
export function dispatchInputs(args: {
  context: JsonValue;
  workflow: WorkflowId;
  correlationId: string;
  dev: boolean;
  extra: Record<string, string | number | boolean> | undefined;
}): Record<string, string> {
  const tangled = tangledInput(args);
  const inputs: Record<string, string> = {};
  for (const [name, value] of Object.entries(args.extra ?? {})) inputs[name] = String(value);
  inputs.correlation_id = args.correlationId;
  inputs.clone_url = tangled.clone_url;
  inputs.commit = tangled.commit;
  inputs.tangled = JSON.stringify(tangled);
  return inputs;
}

function tangledInput(args: {
  context: JsonValue;
  workflow: WorkflowId;
  correlationId: string;
  dev: boolean;
}): TangledInput {
  const context = args.context;
  if (!Value.Check(TriggerMetadata, context)) {
    throw new Error("github: the workflow has no trigger context to build inputs from");
  }
  const { repo } = context;
  const scheme = args.dev ? "http" : "https";
  const pull = context.pullRequest;
  const defaultRef = repo.defaultBranch ? `refs/heads/${repo.defaultBranch}` : "";
  const byKind = {
    push: { commit: context.push?.newSha ?? "", ref: context.push?.ref ?? "" },
    pull_request: {
      commit: pull?.sourceSha ?? "",
      ref: pull ? `refs/heads/${pull.sourceBranch}` : "",
    },
    manual: { commit: "", ref: defaultRef },
  }[context.kind];
  return {
    knot: repo.knot,
    repo_did: repo.did,
    repo_name: repo.repo ?? "",
    // Knots serve a repo under its own DID when it has one, else under owner/name.
    clone_url: repo.repoDid
      ? `${scheme}://${repo.knot}/${repo.repoDid}`
      : `${scheme}://${repo.knot}/${repo.did}/${repo.repo ?? ""}`,
    commit: byKind.commit,
    ref: byKind.ref,
    event: context.kind,
    pipeline_rkey: args.workflow.pipelineRkey,
    workflow: args.workflow.name,
    correlation_id: args.correlationId,
    source_branch: pull?.sourceBranch ?? "",
    target_branch: pull?.targetBranch ?? "",
    pull_request_action: pull?.action ?? "",
    manual_inputs: Object.fromEntries(
      (context.manual?.inputs ?? []).map((input) => [input.key, input.value]),
    ),
  };
}
