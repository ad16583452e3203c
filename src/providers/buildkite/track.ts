/**
 * Applies what tack learns about a build, from a webhook, a poll or a cancel, to its
 * workflow: find the workflow (by the stored reference, else by the build's tack:* meta_data),
 * move its status forward, then record the sighting on the build's row.
 *
 * Order matters for "nothing lost": the status transition commits first, the row (and the
 * caller's extra writes, e.g. a webhook's delivery key) after. A crash in between leaves the
 * delivery unrecorded, so Buildkite's retry or the next poll applies it again, which is a
 * no-op because statuses only move forward.
 */
import type { Clock } from "../../clock.ts";
import type { Tx, Writer } from "../../db/writer.ts";
import type { Logger } from "../../log.ts";
import type { WorkflowId, Workflows } from "../../pipeline/workflows.ts";
import type { BuildkiteBuilds, BuildRef } from "./builds.ts";
import type { BuildLocation } from "./client.ts";
import type { BuildkiteBuild } from "./schemas.ts";
import { effectiveState, observe } from "./states.ts";

/** A build tack is responsible for: its workflow and where to ask Buildkite about it. */
export interface TrackedBuild {
  id: WorkflowId;
  location: BuildLocation;
  /** The stored reference; undefined when only meta_data matched (webhook before spawn). */
  ref?: BuildRef;
}

/** Where a webhook says the build lives, when its API URL does not say it. */
export interface LocationHints {
  org?: string;
  pipeline?: string;
}

export const META_KNOT = "tack:knot";
export const META_PIPELINE_RKEY = "tack:pipeline_rkey";
export const META_WORKFLOW = "tack:workflow";

export class BuildTracker {
  constructor(
    private readonly deps: {
      builds: BuildkiteBuilds;
      workflows: Workflows;
      writer: Writer;
      clock: Clock;
      log: Logger;
      defaultOrg: string;
    },
  ) {}

  /** The tracked build a Buildkite build object is about, or undefined if it is not tack's. */
  locate(build: BuildkiteBuild, hints: LocationHints = {}): TrackedBuild | undefined {
    const ref = this.deps.builds.byUuid(build.id);
    if (ref) return { id: idOf(ref), location: locationOf(ref, build.number), ref };
    const id = workflowFromMetaData(build.meta_data);
    if (!id) return undefined;
    const fromUrl = parseBuildUrl(build.url);
    const pipeline = fromUrl?.pipeline ?? hints.pipeline ?? build.pipeline?.slug;
    if (!pipeline) return undefined;
    const org = fromUrl?.org ?? hints.org ?? this.deps.defaultOrg;
    return { id, location: { org, pipeline, number: build.number } };
  }

  /**
   * Moves the workflow to the status `build` is in (forward only), then records the sighting,
   * running `extra` in that same transaction. Resolves, with what `extra` returned, after
   * both committed.
   */
  async apply(
    tracked: TrackedBuild,
    build: BuildkiteBuild,
    extra?: (tx: Tx) => boolean,
  ): Promise<boolean | undefined> {
    const observation = observe(build);
    const log = this.deps.log.child({
      knot: tracked.id.knot,
      pipeline_rkey: tracked.id.pipelineRkey,
      workflow: tracked.id.name,
      build_uuid: build.id,
    });
    if (!observation) {
      log.warn("buildkite: unknown build state, status left as is", { state: build.state });
    } else if (
      await this.deps.workflows.transition(tracked.id, observation.status, observation.detail)
    ) {
      log.info("buildkite: workflow status", { status: observation.status, state: build.state });
    }
    const now = this.deps.clock.now();
    return this.deps.writer.write((tx) => {
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
      return extra?.(tx);
    });
  }
}

export function idOf(ref: BuildRef): WorkflowId {
  return { knot: ref.knot, pipelineRkey: ref.pipelineRkey, name: ref.workflow };
}

export function locationOf(ref: BuildRef, number = ref.number): BuildLocation {
  return { org: ref.org, pipeline: ref.pipeline, number: number ?? 0 };
}

/** The workflow named by a build's tack:* meta_data (set by spawn), if all three are there. */
function workflowFromMetaData(metaData: BuildkiteBuild["meta_data"]): WorkflowId | undefined {
  const knot = metaData?.[META_KNOT];
  const pipelineRkey = metaData?.[META_PIPELINE_RKEY];
  const name = metaData?.[META_WORKFLOW];
  if (typeof knot !== "string" || typeof pipelineRkey !== "string" || typeof name !== "string") {
    return undefined;
  }
  if (knot === "" || pipelineRkey === "" || name === "") return undefined;
  return { knot, pipelineRkey, name };
}

/** ".../v2/organizations/{org}/pipelines/{pipeline}/builds/{n}" → org and pipeline. */
function parseBuildUrl(url: string | undefined): { org: string; pipeline: string } | undefined {
  const match = url ? /\/organizations\/([^/]+)\/pipelines\/([^/]+)\/builds\/\d+/.exec(url) : null;
  if (!match?.[1] || !match[2]) return undefined;
  return { org: decodeURIComponent(match[1]), pipeline: decodeURIComponent(match[2]) };
}
