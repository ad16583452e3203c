/**
 * What to build, read from a workflow's stored context (the pipeline's trigger metadata), the
 * same way for every provider:
 *
 * | kind         | commit           | ref                                   |
 * | ------------ | ---------------- | ------------------------------------- |
 * | push         | push.newSha      | push.ref                              |
 * | pull_request | pullRequest.sourceSha | refs/heads/<pullRequest.sourceBranch> |
 * | manual       | manual.sha       | manual.ref, else the default branch   |
 *
 * The clone URL is `https://<knot>/<repo DID>` when the repo has its own DID (the source repo's
 * DID for a fork: the code comes from there), else `https://<knot>/<owner DID>/<repo name>`;
 * `http://` in dev mode (TACK_DEV).
 */
import { Value } from "@sinclair/typebox/value";
import type { JsonValue } from "../eventlog/canonical-json.ts";
import { TriggerMetadata } from "../tangled/lexicons.ts";

export interface BuildTarget {
  kind: TriggerMetadata["kind"];
  /** The commit to build; undefined for a manual run that names none (build the ref's head). */
  commit: string | undefined;
  /** The full ref: "refs/heads/main", "refs/tags/v1"; undefined when nothing names one. */
  ref: string | undefined;
  /** `ref` without refs/heads/ or refs/tags/. */
  branch: string | undefined;
  cloneUrl: string;
  knot: string;
  /** The repo owner's DID, its own DID (when it has one) and its name (when known). */
  ownerDid: string;
  repoDid: string | undefined;
  repoName: string | undefined;
  defaultBranch: string;
  /** A fork's repo DID, when the code comes from there. */
  sourceRepoDid: string | undefined;
  pullRequest:
    | {
        sourceBranch: string;
        targetBranch: string;
        action: string | undefined;
        pull: string | undefined;
      }
    | undefined;
  /** A manual run's inputs, in the order given. */
  inputs: { key: string; value: string }[];
}

/** Throws when the context is not trigger metadata (only a hand-made workflow can be that). */
export function buildTarget(context: JsonValue, dev: boolean): BuildTarget {
  if (!Value.Check(TriggerMetadata, context)) {
    throw new Error("the workflow carries no trigger metadata to build from");
  }
  const { repo } = context;
  const scheme = dev ? "http" : "https";
  const codeDid = context.sourceRepo ?? repo.repoDid;
  const cloneUrl = codeDid
    ? `${scheme}://${repo.knot}/${codeDid}`
    : `${scheme}://${repo.knot}/${repo.did}/${repo.repo ?? ""}`;
  const defaultRef = repo.defaultBranch ? `refs/heads/${repo.defaultBranch}` : undefined;
  const pull = context.kind === "pull_request" ? context.pullRequest : undefined;
  const { commit, ref } =
    context.kind === "push"
      ? { commit: context.push?.newSha, ref: context.push?.ref }
      : context.kind === "pull_request"
        ? { commit: pull?.sourceSha, ref: pull ? `refs/heads/${pull.sourceBranch}` : undefined }
        : { commit: context.manual?.sha, ref: qualify(context.manual?.ref) ?? defaultRef };
  return {
    kind: context.kind,
    commit,
    ref,
    branch: ref?.replace(/^refs\/(?:heads|tags)\//, "") || undefined,
    cloneUrl,
    knot: repo.knot,
    ownerDid: repo.did,
    repoDid: repo.repoDid,
    repoName: repo.repo,
    defaultBranch: repo.defaultBranch,
    sourceRepoDid: context.sourceRepo,
    pullRequest: pull && {
      sourceBranch: pull.sourceBranch,
      targetBranch: pull.targetBranch,
      action: pull.action,
      pull: pull.pull,
    },
    inputs: context.kind === "manual" ? (context.manual?.inputs ?? []) : [],
  };
}

/** A manual run's ref may be a bare branch name: "main" → "refs/heads/main". */
function qualify(ref: string | undefined): string | undefined {
  if (!ref) return undefined;
  return ref.startsWith("refs/") ? ref : `refs/heads/${ref}`;
}

/**
 * The context every build receives as `TACK_*` environment variables, on CIs that take an
 * environment (docs/buildkite.md lists them). A manual run's inputs become `TACK_INPUT_<KEY>`,
 * the key upper-cased with anything but letters, digits and `_` turned into `_`.
 */
export function contextVariables(
  id: { knot: string; pipelineRkey: string; name: string },
  target: BuildTarget,
): Record<string, string> {
  const variables: Record<string, string> = {
    TACK_KNOT: id.knot,
    TACK_PIPELINE_RKEY: id.pipelineRkey,
    TACK_WORKFLOW: id.name,
    TACK_EVENT: target.kind,
    TACK_COMMIT: target.commit ?? "",
    TACK_REF: target.ref ?? "",
    TACK_BRANCH: target.branch ?? "",
    TACK_CLONE_URL: target.cloneUrl,
    TACK_REPO_DID: target.ownerDid,
    TACK_REPO_NAME: target.repoName ?? "",
  };
  if (target.sourceRepoDid) variables.TACK_SOURCE_REPO_DID = target.sourceRepoDid;
  if (target.pullRequest) {
    variables.TACK_PR_SOURCE_BRANCH = target.pullRequest.sourceBranch;
    variables.TACK_PR_TARGET_BRANCH = target.pullRequest.targetBranch;
    variables.TACK_PR_ACTION = target.pullRequest.action ?? "";
    variables.TACK_PR_URI = target.pullRequest.pull ?? "";
  }
  for (const { key, value } of target.inputs) variables[inputVariable(key)] = value;
  return variables;
}

/** "deploy-target" → "TACK_INPUT_DEPLOY_TARGET". */
export function inputVariable(key: string): string {
  return `TACK_INPUT_${key.toUpperCase().replace(/[^A-Z0-9_]/g, "_")}`;
}
