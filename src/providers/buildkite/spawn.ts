/**
 * Starts one Buildkite build for one workflow, exactly once, and stores its reference before
 * returning, so every later webhook, poll, /logs and cancel can find it.
 *
 * The create request is the one that is not idempotent, so it goes through the kit's
 * createOnce: recorded before it is sent, and after a crash or an unclear answer the pipeline
 * is searched for a build carrying this workflow's meta_data before another is created (see
 * ../spawn-once.ts). A 4xx fails the workflow with tack's account of Buildkite's answer.
 */
import type { Clock } from "../../clock.ts";
import type { Logger } from "../../log.ts";
import type { StoredWorkflow } from "../../pipeline/workflows.ts";
import type { BuildVariables } from "../provider.ts";
import type { SpawnAttempts } from "../spawn-attempts.ts";
import { createOnce } from "../spawn-once.ts";
import type { BuildkiteBuilds } from "./builds.ts";
import type { BuildkiteClient } from "./client.ts";
import { PROVIDER } from "./config.ts";
import { readOptions } from "./options.ts";
import { buildRequest } from "./request.ts";
import { type BuildTracker, metaDataOf } from "./track.ts";
import type { SpawnTuning } from "./tuning.ts";

export interface SpawnDeps {
  client: BuildkiteClient;
  builds: BuildkiteBuilds;
  tracker: BuildTracker;
  attempts: SpawnAttempts;
  clock: Clock;
  log: Logger;
  defaultOrg: string;
  dev: boolean;
  tuning: SpawnTuning;
}

export async function spawnBuild(
  deps: SpawnDeps,
  workflow: StoredWorkflow,
  variables: BuildVariables,
): Promise<void> {
  // Spawned again after a crash between storing the build and marking the workflow spawned.
  if (deps.builds.forWorkflow(workflow.id).length > 0) return;
  const options = readOptions(workflow.options);
  const org = options.org ?? deps.defaultOrg;
  const body = buildRequest(workflow, options, variables, deps.dev);
  const build = await createOnce(
    {
      provider: PROVIDER,
      api: "Buildkite",
      attempts: deps.attempts,
      clock: deps.clock,
      listDelayMs: deps.tuning.listDelayMs,
      maxAttempts: deps.tuning.maxAttempts,
      backoffMs: deps.tuning.backoffMs,
    },
    workflow.id,
    {
      find: async () =>
        (await deps.client.findBuilds(org, options.pipeline, metaDataOf(workflow.id)))[0],
      create: () => deps.client.createBuild(org, options.pipeline, body),
    },
  );
  await deps.tracker.apply(
    { id: workflow.id, location: { org, pipeline: options.pipeline, number: build.number } },
    build,
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
