/**
 * Cancels a workflow's Buildkite build. Buildkite answers with the build, usually
 * `canceling` (running to Tangled) and later `canceled`, which a webhook or a poll turns into
 * `cancelled`. A 422 means the build can no longer be canceled: if it already finished, its
 * final state is applied and the call succeeds; otherwise Buildkite's reason is thrown.
 */
import type { StoredWorkflow } from "../../pipeline/workflows.ts";
import type { BuildkiteBuilds } from "./builds.ts";
import { BuildkiteApiError, type BuildkiteClient } from "./client.ts";
import { effectiveState, isFinishedState } from "./states.ts";
import { type BuildTracker, locationOf } from "./track.ts";

export async function cancelBuild(
  deps: { client: BuildkiteClient; builds: BuildkiteBuilds; tracker: BuildTracker },
  workflow: StoredWorkflow,
): Promise<void> {
  const [ref] = deps.builds.forWorkflow(workflow.id);
  if (!ref) throw new Error("this workflow has no Buildkite build to cancel");
  const location = locationOf(ref);
  let build: Awaited<ReturnType<BuildkiteClient["cancelBuild"]>>;
  try {
    build = await deps.client.cancelBuild(location);
  } catch (error) {
    if (!(error instanceof BuildkiteApiError) || error.status !== 422) throw error;
    build = await deps.client.getBuild(location);
    if (!isFinishedState(effectiveState(build))) throw error;
  }
  await deps.tracker.apply({ id: workflow.id, location, ref }, build);
}
