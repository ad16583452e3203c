/**
 * Stops a workflow's Buildkite build (`PUT …/builds/{number}/cancel`) and resolves once
 * Buildkite accepted, or when there is nothing left to stop: the build already finished (422,
 * confirmed by reading it), or no build exists. It publishes no status: the core publishes
 * `cancelled` itself, and Buildkite's later `canceled` changes nothing (statuses only move
 * forward). A refusal or an unreachable Buildkite throws a CancelError saying what to check.
 */
import type { StoredWorkflow } from "../../pipeline/workflows.ts";
import { ApiError } from "../http-client.ts";
import { CancelError } from "../provider.ts";
import type { BuildkiteBuilds } from "./builds.ts";
import type { BuildkiteClient, BuildLocation } from "./client.ts";
import { PROVIDER } from "./config.ts";
import { readOptions } from "./options.ts";
import { effectiveState, isFinishedState } from "./states.ts";
import { locationOf, metaDataOf } from "./track.ts";

export async function cancelBuild(
  deps: { client: BuildkiteClient; builds: BuildkiteBuilds; defaultOrg: string },
  workflow: StoredWorkflow,
): Promise<void> {
  const location = await buildOf(deps, workflow);
  if (!location) return;
  const what = `Buildkite build #${location.number} of ${location.org}/${location.pipeline}`;
  try {
    await deps.client.cancelBuild(location);
    return;
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 422) throw cancelError(what, error);
  }
  let build: Awaited<ReturnType<BuildkiteClient["getBuild"]>>;
  try {
    build = await deps.client.getBuild(location);
  } catch (error) {
    throw cancelError(what, error);
  }
  if (isFinishedState(effectiveState(build))) return;
  throw new CancelError(
    `could not cancel ${what}: Buildkite refused while the build is ${build.state}; cancel it in Buildkite's UI`,
    PROVIDER,
  );
}

/** The build to stop: the recorded one, else one carrying the workflow's meta_data. */
async function buildOf(
  deps: { client: BuildkiteClient; builds: BuildkiteBuilds; defaultOrg: string },
  workflow: StoredWorkflow,
): Promise<BuildLocation | undefined> {
  const [ref] = deps.builds.forWorkflow(workflow.id);
  if (ref) return locationOf(ref);
  // Never recorded: spawn failed before Buildkite, or tack stopped right after creating it.
  const options = readOptions(workflow.options);
  const org = options.org ?? deps.defaultOrg;
  let found: Awaited<ReturnType<BuildkiteClient["findBuilds"]>>;
  try {
    found = await deps.client.findBuilds(org, options.pipeline, metaDataOf(workflow.id));
  } catch (error) {
    throw cancelError(`the Buildkite build of ${workflow.id.name}`, error);
  }
  const [build] = found;
  return build && { org, pipeline: options.pipeline, number: build.number };
}

function cancelError(what: string, error: unknown): CancelError {
  return CancelError.of(
    PROVIDER,
    what,
    error,
    "check that TACK_BUILDKITE_TOKEN has the write_builds scope",
  );
}
