/**
 * TypeBox schemas for the sh.tangled.* records tack reads, transcribed from the Tangled
 * lexicons. Wire data is validated once, where it enters, against these.
 * Unknown fields are allowed, as atproto records may grow; `$type` is not checked because the
 * knot sends "".
 */
import { type Static, Type } from "@sinclair/typebox";

export const NSID_PIPELINE = "sh.tangled.pipeline";

const Sha = Type.String({ minLength: 40, maxLength: 40 });

/**
 * A knot is a host name, with a port in development ("knot.example.com", "localhost:6000").
 * tack dials it, so anything else (paths, fragments, credentials, spaces) is refused here.
 */
const KnotHost = Type.String({
  maxLength: 253,
  pattern: "^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?$",
});

export const TriggerRepo = Type.Object({
  knot: KnotHost,
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

export const NSID_REPO = "sh.tangled.repo";
export const NSID_SPINDLE_MEMBER = "sh.tangled.spindle.member";
export const NSID_COLLABORATOR = "sh.tangled.repo.collaborator";

const Did = Type.String({ pattern: "^did:[a-z]+:[A-Za-z0-9._:%-]+$" });

/** sh.tangled.repo: `spindle` names the CI runner ("", "[[none]]" or absent: none). */
export const RepoRecord = Type.Object({
  name: Type.String({ minLength: 1 }),
  knot: KnotHost,
  spindle: Type.Optional(Type.String()),
  createdAt: Type.String(),
});
export type RepoRecord = Static<typeof RepoRecord>;

/** sh.tangled.spindle.member: authored by a spindle owner, admitting `subject` to `instance`. */
export const SpindleMemberRecord = Type.Object({
  subject: Did,
  instance: Type.String({ minLength: 1 }),
  createdAt: Type.String(),
});
export type SpindleMemberRecord = Static<typeof SpindleMemberRecord>;

/** sh.tangled.repo.collaborator: `repo` is the at-uri of the sh.tangled.repo record. */
export const CollaboratorRecord = Type.Object({
  subject: Did,
  repo: Type.String({ pattern: "^at://" }),
  createdAt: Type.String(),
});
export type CollaboratorRecord = Static<typeof CollaboratorRecord>;

/** One Jetstream message (plain JSON, no zstd). Only commits carry records. */
export const JetstreamEvent = Type.Object({
  did: Did,
  time_us: Type.Integer({ minimum: 0 }),
  kind: Type.String(),
  commit: Type.Optional(
    Type.Object({
      operation: Type.Union([
        Type.Literal("create"),
        Type.Literal("update"),
        Type.Literal("delete"),
      ]),
      collection: Type.String(),
      rkey: Type.String({ minLength: 1 }),
      record: Type.Optional(Type.Unknown()),
    }),
  ),
});
export type JetstreamEvent = Static<typeof JetstreamEvent>;

/** A frame of a knot's /events stream; `created` only from newer knots. */
export const KnotFrame = Type.Object({
  rkey: Type.String({ minLength: 1, maxLength: 64 }),
  nsid: Type.String(),
  event: Type.Unknown(),
});
export type KnotFrame = Static<typeof KnotFrame>;
