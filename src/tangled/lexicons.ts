/**
 * TypeBox schemas for the sh.tangled.* records tack reads, transcribed from the lexicons
 * (shared/lexicons). Wire data is validated once, where it enters, against these.
 * Unknown fields are allowed, as atproto records may grow; `$type` is not checked because the
 * knot sends "" (tangled-protocol.md §2).
 */
import { type Static, Type } from "@sinclair/typebox";

export const NSID_PIPELINE = "sh.tangled.pipeline";

const Sha = Type.String({ minLength: 40, maxLength: 40 });

export const TriggerRepo = Type.Object({
  knot: Type.String({ minLength: 1 }),
  did: Type.String({ pattern: "^did:[a-z]+:[A-Za-z0-9._:%-]+$" }),
  repo: Type.String({ minLength: 1 }),
  defaultBranch: Type.String(),
});

export const PushTriggerData = Type.Object({
  ref: Type.String(),
  newSha: Sha,
  oldSha: Sha,
});

export const PullRequestTriggerData = Type.Object({
  sourceBranch: Type.String(),
  targetBranch: Type.String(),
  sourceSha: Sha,
  action: Type.String(),
});

export const ManualTriggerData = Type.Object({
  inputs: Type.Optional(Type.Array(Type.Object({ key: Type.String(), value: Type.String() }))),
});

export const TriggerMetadata = Type.Object({
  kind: Type.Union([Type.Literal("push"), Type.Literal("pull_request"), Type.Literal("manual")]),
  repo: TriggerRepo,
  push: Type.Optional(PushTriggerData),
  pullRequest: Type.Optional(PullRequestTriggerData),
  manual: Type.Optional(ManualTriggerData),
});
export type TriggerMetadata = Static<typeof TriggerMetadata>;

export const PipelineWorkflow = Type.Object({
  name: Type.String({ minLength: 1 }),
  engine: Type.String(),
  raw: Type.String(),
  clone: Type.Optional(
    Type.Object({
      skip: Type.Optional(Type.Boolean()),
      depth: Type.Optional(Type.Integer()),
      submodules: Type.Optional(Type.Boolean()),
    }),
  ),
});
export type PipelineWorkflow = Static<typeof PipelineWorkflow>;

export const PipelineTrigger = Type.Object({
  triggerMetadata: TriggerMetadata,
  workflows: Type.Array(PipelineWorkflow),
});
export type PipelineTrigger = Static<typeof PipelineTrigger>;
