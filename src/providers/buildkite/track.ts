/**
 * Applies what tack learns about a build (from a webhook, a poll or a spawn's lookup) to its
 * workflow: the status moves forward and the build's row records the sighting, in one
 * transaction, together with whatever the caller adds (a webhook's delivery key). A crash
 * therefore loses all of it or none, and the CI's retry or the next poll applies it once.
 */
import type { Clock } from "../../clock.ts";
import type { Tx, Writer } from "../../db/writer.ts";
import type { Logger } from "../../log.ts";
import type { WorkflowId } from "../../pipeline/workflows.ts";
import type { WorkflowStore } from "../provider.ts";
import type { BuildkiteBuilds, BuildRef } from "./builds.ts";
import type { BuildLocation } from "./client.ts";
import type { BuildkiteBuild } from "./schemas.ts";
import { effectiveState, observe } from "./states.ts";

/** A build tack is responsible for: its workflow and where to ask Buildkite about it. */
export interface TrackedBuild {
  id: WorkflowId;
  location: BuildLocation;
}

export const META_KNOT = "tack:knot";
export const META_PIPELINE_RKEY = "tack:pipeline_rkey";
export const META_WORKFLOW = "tack:workflow";

export class BuildTracker {
  constructor(
    private readonly deps: {
      builds: BuildkiteBuilds;
      workflows: WorkflowStore;
      writer: Writer;
      clock: Clock;
      log: Logger;
    },
  ) {}

  /** Moves the workflow to the status `build` is in and records the sighting, atomically. */
  async apply(
    tracked: TrackedBuild,
    build: BuildkiteBuild,
    extra?: (tx: Tx) => void,
  ): Promise<void> {
    const now = this.deps.clock.now();
    const record = (tx: Tx) => {
      this.deps.builds.record(
        tx,
        {
          buildUuid: build.id,
          knot: tracked.id.knot,
          pipelineRkey: tracked.id.pipelineRkey,
          workflow: tracked.id.name,
          org: tracked.location.org,
          pipeline: tracked.location.pipeline,
          number: build.number,
          webUrl: build.web_url ?? null,
          state: effectiveState(build),
        },
        now,
      );
      extra?.(tx);
    };
    const log = this.deps.log.child({
      knot: tracked.id.knot,
      pipeline_rkey: tracked.id.pipelineRkey,
      workflow: tracked.id.name,
      build_uuid: build.id,
    });
    const observation = observe(build);
    if (!observation) {
      log.warn("buildkite: unknown build state, status left as is", { state: build.state });
      await this.deps.writer.write(record);
      return;
    }
    const moved = await this.deps.workflows.transition(
      tracked.id,
      observation.status,
      observation.detail,
      record,
    );
    if (moved)
      log.info("buildkite: workflow status", { status: observation.status, state: build.state });
  }
}

export function idOf(ref: BuildRef): WorkflowId {
  return { knot: ref.knot, pipelineRkey: ref.pipelineRkey, name: ref.workflow };
}

export function locationOf(ref: BuildRef, number = ref.number): BuildLocation {
  return { org: ref.org, pipeline: ref.pipeline, number: number ?? 0 };
}

/** The meta_data spawn puts on a workflow's build: its correlation key. */
export function metaDataOf(id: WorkflowId): Record<string, string> {
  return { [META_KNOT]: id.knot, [META_PIPELINE_RKEY]: id.pipelineRkey, [META_WORKFLOW]: id.name };
}

/** The workflow named by a build's tack:* meta_data, if all three are there. */
export function workflowFromMetaData(
  metaData: BuildkiteBuild["meta_data"],
): WorkflowId | undefined {
  const knot = metaData?.[META_KNOT];
  const pipelineRkey = metaData?.[META_PIPELINE_RKEY];
  const name = metaData?.[META_WORKFLOW];
  if (typeof knot !== "string" || typeof pipelineRkey !== "string" || typeof name !== "string") {
    return undefined;
  }
  if (knot === "" || pipelineRkey === "" || name === "") return undefined;
  return { knot, pipelineRkey, name };
}
