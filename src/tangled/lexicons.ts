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

export const Did = Type.String({
  pattern: "^did:[a-z]+:[A-Za-z0-9._:%-]+$",
  maxLength: 2048,
  description: "a DID, e.g. did:plc:7iza6de2dwap2sbkpav7c6c6",
});

/** A record key in TID form: 13 base32-sortable characters. */
export const Tid = Type.String({
  pattern: "^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$",
  description: "a TID (13 characters, e.g. 3m6mxh2znw222)",
});

/** A git commit id: 40 hex digits (SHA-1) or 64 (SHA-256). */
export const CommitId = Type.String({
  pattern: "^[0-9a-f]{40}(?:[0-9a-f]{24})?$",
  description: "a commit id (40 or 64 lowercase hex digits)",
});

/**
 * Where a pipeline's repo lives. Today's records name the repo by its own DID (`repoDid`);
 * older ones only by owner DID (`did`) and record name (`repo`), so both stay optional here.
 */
export const TriggerRepo = Type.Object({
  knot: KnotHost,
  did: Did,
  repoDid: Type.Optional(Did),
  repo: Type.Optional(Type.String()),
  defaultBranch: Type.String(),
});
export type TriggerRepo = Static<typeof TriggerRepo>;

export const PushTriggerData = Type.Object({
  ref: Type.String(),
  newSha: Sha,
  oldSha: Sha,
});

/**
 * `action` is one of opened, reopened, closed, merged, synchronize in today's lexicon; older
 * knots wrote other words ("create"), and a fork PR run triggered by the appview has none.
 */
export const PullRequestTriggerData = Type.Object({
  sourceBranch: Type.String(),
  targetBranch: Type.String(),
  sourceSha: Sha,
  action: Type.Optional(Type.String()),
  pull: Type.Optional(Type.String()),
});

export const InputPair = Type.Object({ key: Type.String(), value: Type.String() });

/** Older manual triggers carried only `inputs`; today's name the commit (`sha`) and `ref`. */
export const ManualTriggerData = Type.Object({
  sha: Type.Optional(Sha),
  ref: Type.Optional(Type.String()),
  inputs: Type.Optional(Type.Array(InputPair)),
});

export const TriggerKind = Type.Union(
  [Type.Literal("push"), Type.Literal("pull_request"), Type.Literal("manual")],
  { description: "push, pull_request or manual" },
);
export type TriggerKind = Static<typeof TriggerKind>;

export const TriggerMetadata = Type.Object({
  kind: TriggerKind,
  repo: TriggerRepo,
  push: Type.Optional(PushTriggerData),
  pullRequest: Type.Optional(PullRequestTriggerData),
  manual: Type.Optional(ManualTriggerData),
  /** The repo the code and workflows come from when it is not `repo` (a fork). */
  sourceRepo: Type.Optional(Did),
});
export type TriggerMetadata = Static<typeof TriggerMetadata>;

export const CloneOptions = Type.Object({
  skip: Type.Optional(Type.Boolean()),
  depth: Type.Optional(Type.Integer()),
  submodules: Type.Optional(Type.Boolean()),
  tags: Type.Optional(Type.Boolean()),
});

export const PipelineWorkflow = Type.Object({
  name: Type.String({ minLength: 1 }),
  engine: Type.String(),
  raw: Type.String(),
  clone: Type.Optional(CloneOptions),
});
export type PipelineWorkflow = Static<typeof PipelineWorkflow>;

/** sh.tangled.pipeline: what a knot announces, and what tack publishes for pipelines it makes. */
export const PipelineRecord = Type.Object({
  triggerMetadata: TriggerMetadata,
  workflows: Type.Array(PipelineWorkflow),
});
export type PipelineRecord = Static<typeof PipelineRecord>;

export const NSID_REPO = "sh.tangled.repo";
export const NSID_SPINDLE_MEMBER = "sh.tangled.spindle.member";
export const NSID_COLLABORATOR = "sh.tangled.repo.collaborator";

/**
 * sh.tangled.repo: `spindle` names the CI runner ("", "[[none]]" or absent: none). Today's
 * records carry the repo's own DID (`repoDid`) and may leave out the now cosmetic `name`.
 */
export const RepoRecord = Type.Object({
  name: Type.Optional(Type.String()),
  knot: KnotHost,
  spindle: Type.Optional(Type.String()),
  repoDid: Type.Optional(Did),
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

/**
 * sh.tangled.repo.collaborator: `repo` names the repo, by its DID in today's records and by the
 * at-uri of its sh.tangled.repo record in older ones.
 */
export const CollaboratorRecord = Type.Object({
  subject: Did,
  repo: Type.String({ pattern: "^(?:at://|did:)", maxLength: 2048 }),
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

export const NSID_REF_UPDATE = "sh.tangled.git.refUpdate";
export const NSID_COLLABORATOR_UPDATE = "sh.tangled.repo.collaboratorUpdate";

/**
 * sh.tangled.git.refUpdate: one pushed ref, as a knot's post-receive hook announces it. Today's
 * knots name the repo by its own DID (`repo`); older ones by owner DID (`repoDid`, despite the
 * name) and `repoName`. `meta` is null when the ref was deleted.
 */
export const RefUpdate = Type.Object({
  ref: Type.String({ minLength: 1, maxLength: 2560 }),
  oldSha: Sha,
  newSha: Sha,
  repo: Type.Optional(Did),
  repoDid: Type.Optional(Did),
  repoName: Type.Optional(Type.String({ minLength: 1 })),
  ownerDid: Type.Optional(Did),
  committerDid: Type.Optional(Did),
  changedFiles: Type.Optional(Type.Array(Type.String(), { maxItems: 100_000 })),
  pushOptions: Type.Optional(Type.Array(Type.String({ maxLength: 1024 }), { maxItems: 50 })),
});
export type RefUpdate = Static<typeof RefUpdate>;

/** sh.tangled.repo.collaboratorUpdate: a knot adding or removing a repo's collaborator. */
export const CollaboratorUpdate = Type.Object({
  op: Type.Union([Type.Literal("add"), Type.Literal("remove")]),
  subject: Did,
  repo: Did,
});
export type CollaboratorUpdate = Static<typeof CollaboratorUpdate>;

export const NSID_PULL = "sh.tangled.repo.pull";
export const NSID_PULL_STATUS = "sh.tangled.repo.pull.status";

/** A blob reference as records carry it: `{"$type":"blob","ref":{"$link":<cid>},…}`. */
export const BlobRef = Type.Object({
  ref: Type.Object({ $link: Type.String({ pattern: "^[a-z2-7]{8,128}$" }) }),
  mimeType: Type.Optional(Type.String()),
  size: Type.Optional(Type.Integer({ minimum: 0 })),
});

/**
 * sh.tangled.repo.pull, in each shape Tangled has written it: the target names the repo by
 * `repoDid` or `repo` (a DID, or the at-uri of its sh.tangled.repo record); a branch pull
 * request's `source` names its branch, and either its commit (`sha`, older records) or none,
 * the commit then being the last patch of the latest round's `patchBlob`. A `source.repo` (or
 * `repoDid`) other than the target makes it a fork's pull request; no `source`, a patch's.
 */
export const PullRecord = Type.Object({
  target: Type.Object({
    repo: Type.Optional(Type.String({ maxLength: 2048 })),
    repoDid: Type.Optional(Did),
    branch: Type.String({ minLength: 1, maxLength: 1024 }),
  }),
  source: Type.Optional(
    Type.Object({
      branch: Type.String({ minLength: 1, maxLength: 1024 }),
      sha: Type.Optional(Sha),
      repo: Type.Optional(Type.String({ maxLength: 2048 })),
      repoDid: Type.Optional(Did),
    }),
  ),
  rounds: Type.Optional(
    Type.Array(
      Type.Object({ patchBlob: Type.Optional(BlobRef), createdAt: Type.Optional(Type.String()) }),
      { maxItems: 10_000 },
    ),
  ),
});
export type PullRecord = Static<typeof PullRecord>;

/** sh.tangled.repo.pull.status: a pull request reopened, closed or merged. */
export const PullStatusRecord = Type.Object({
  pull: Type.String({ pattern: "^at://", maxLength: 2048 }),
  status: Type.String({ maxLength: 256 }),
});
export type PullStatusRecord = Static<typeof PullStatusRecord>;
