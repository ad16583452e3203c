/**
 * Wire-format helpers for the stand-ins, written independently of src/: JSON with keys sorted
 * the way Go marshals a map (the knot's and Jetstream's frames), and record builders shaped
 * exactly like the Tangled lexicons.
 */
export function sortedJson(value: unknown): string {
  return JSON.stringify(sortDeep(value));
}

function sortDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortDeep);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort())
    out[key] = sortDeep((value as Record<string, unknown>)[key]);
  return out;
}

export const OWNER = "did:plc:owner000000000000000000";
export const MEMBER = "did:plc:member00000000000000000";
export const STRANGER = "did:plc:stranger0000000000000000";

export interface WorkflowFile {
  name: string;
  raw: string;
}

export const FAKE_WORKFLOW: WorkflowFile = {
  name: "ci.yml",
  raw: "when:\n  - event: [push]\n    branch: main\nengine: tack\ntack:\n  fake: {}\n",
};

/** An sh.tangled.pipeline record as a knot emits it ("$type" left empty, as Go does). */
export function pipelineRecord(options: {
  knot: string;
  did: string;
  repo?: string;
  repoDid?: string;
  workflows?: WorkflowFile[];
  kind?: "push" | "pull_request";
  sha?: string;
  ref?: string;
}) {
  const sha = options.sha ?? "3f4c1e2d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d";
  return {
    $type: "",
    triggerMetadata: {
      kind: options.kind ?? "push",
      ...(options.kind === "pull_request"
        ? {
            pullRequest: {
              action: "create",
              sourceBranch: "feature",
              sourceSha: sha,
              targetBranch: "main",
            },
          }
        : { push: { newSha: sha, oldSha: "0".repeat(40), ref: options.ref ?? "refs/heads/main" } }),
      repo: {
        defaultBranch: "",
        did: options.did,
        knot: options.knot,
        ...(options.repo === undefined ? {} : { repo: options.repo }),
        ...(options.repoDid === undefined ? {} : { repoDid: options.repoDid }),
      },
    },
    workflows: (options.workflows ?? [FAKE_WORKFLOW]).map((workflow) => ({
      clone: { depth: 0, skip: false, submodules: true, tags: true },
      engine: "nixery",
      name: workflow.name,
      raw: workflow.raw,
    })),
  };
}

/**
 * An sh.tangled.git.refUpdate event as today's knots write it (`repo` is the repo DID), or as
 * older knots did (`repoDid` is the owner's DID, with `repoName`, and no `repo`).
 */
export function refUpdateRecord(options: {
  repo?: string;
  owner?: string;
  legacyName?: string;
  ref?: string;
  newSha: string;
  oldSha?: string;
  changedFiles?: string[];
  pushOptions?: string[];
  committer?: string;
}) {
  const owner = options.owner ?? OWNER;
  const deleted = options.newSha === "0".repeat(40);
  return {
    $type: "",
    ...(options.changedFiles ? { changedFiles: options.changedFiles } : {}),
    committerDid: options.committer ?? owner,
    meta: deleted ? null : { commitCount: { byEmail: [] }, isDefaultRef: true },
    newSha: options.newSha,
    oldSha: options.oldSha ?? "0".repeat(40),
    ...(options.legacyName
      ? { repoDid: owner, repoName: options.legacyName }
      : { ownerDid: owner, repo: options.repo }),
    ...(options.pushOptions ? { pushOptions: options.pushOptions } : {}),
    ref: options.ref ?? "refs/heads/main",
  };
}

/** An sh.tangled.repo record; today's carry `repoDid` and may leave out `name`. */
export function repoRecord(options: {
  name?: string;
  knot: string;
  spindle?: string;
  repoDid?: string;
}) {
  return {
    $type: "sh.tangled.repo",
    createdAt: "2026-11-26T20:00:00Z",
    knot: options.knot,
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(options.repoDid === undefined ? {} : { repoDid: options.repoDid }),
    ...(options.spindle === undefined ? {} : { spindle: options.spindle }),
  };
}

export function memberRecord(subject: string, instance: string) {
  return {
    $type: "sh.tangled.spindle.member",
    createdAt: "2026-11-26T20:00:00Z",
    instance,
    subject,
  };
}

let shaCounter = 0;
/** A commit id no other call returns: each push in a test is a push of its own. */
export function freshSha(): string {
  shaCounter++;
  return new Bun.CryptoHasher("sha1").update(`commit ${Date.now()} ${shaCounter}`).digest("hex");
}

const TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz";
let lastTidMicros = 0;
/** A fresh TID (clock id 0), as knots and PDSes mint rkeys. */
export function newTid(): string {
  lastTidMicros = Math.max(Date.now() * 1000, lastTidMicros + 1);
  return encodeTid(lastTidMicros);
}

let pastCounter = 0;
/** A TID minted `agoMs` milliseconds in the past (an event a knot stored a while ago). */
export function pastTid(agoMs: number): string {
  return encodeTid((Date.now() - agoMs) * 1000 + (pastCounter++ % 1000));
}

function encodeTid(micros: number): string {
  let value = BigInt(micros) << 10n;
  let out = "";
  for (let i = 0; i < 13; i++) {
    out = TID_ALPHABET.charAt(Number(value & 31n)) + out;
    value >>= 5n;
  }
  return out;
}

/**
 * A `git format-patch` series as Tangled stores a pull request round's patch (before gzip):
 * one patch per commit, each starting with `From <commit> Mon Sep 17 00:00:00 2001`.
 */
export function formatPatch(commits: string[]): string {
  return commits
    .map(
      (commit, i) =>
        `From ${commit} Mon Sep 17 00:00:00 2001\nFrom: Dev <dev@example.com>\nDate: Tue, 1 Dec 2026 10:00:00 +0000\nSubject: [PATCH ${i + 1}/${commits.length}] change ${i + 1}\n\n---\n a.txt | 1 +\n 1 file changed, 1 insertion(+)\n\ndiff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -0,0 +1 @@\n+line ${i + 1}\n--\n2.49.0\n\n`,
    )
    .join("");
}

/** An sh.tangled.repo.pull record of today's shape: rounds whose patches are blobs. */
export function pullRecord(options: {
  targetRepo: string;
  targetBranch?: string;
  sourceBranch?: string;
  sourceRepo?: string;
  /** Older records name the source commit directly. */
  sourceSha?: string;
  rounds?: string[];
}) {
  return {
    $type: "sh.tangled.repo.pull",
    createdAt: "2026-12-01T10:00:00Z",
    title: "a change",
    target: { branch: options.targetBranch ?? "main", repoDid: options.targetRepo },
    source: {
      branch: options.sourceBranch ?? "feature",
      ...(options.sourceSha ? { sha: options.sourceSha } : {}),
      ...(options.sourceRepo ? { repoDid: options.sourceRepo } : {}),
    },
    ...(options.rounds
      ? {
          rounds: options.rounds.map((cid) => ({
            createdAt: "2026-12-01T10:00:00Z",
            patchBlob: {
              $type: "blob",
              ref: { $link: cid },
              mimeType: "application/gzip",
              size: 100,
            },
          })),
        }
      : {}),
  };
}
