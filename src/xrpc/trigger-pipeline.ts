/**
 * POST /xrpc/sh.tangled.ci.triggerPipeline (service auth) — the appview's "run" and "retry"
 * buttons, and fork pull requests.
 *
 * In order: the token is checked in full (403 Auth); the body is JSON of the method's shape;
 * `repo` is a repo DID this spindle serves (400 RepoNotFound); the caller has push rights on it
 * (400 AccessControl); `trigger` is `sh.tangled.ci.trigger#manual` (`sha`, `ref`, `inputs`,
 * `sourceRepo`) or `#pullRequest` (`sourceSha`, `targetBranch`, `sourceBranch`, `sourceRepo`,
 * `pull`) with a 40-hex commit; `workflows` optionally limits the run. Answer:
 * `{"pipeline": "at://did:web:<knot>/sh.tangled.pipeline/<id>"}`. Every refusal is 400 (as
 * Tangled's spindles answer) with a message saying what is wrong, except a knot that cannot be
 * read (502) and a busy spindle (503).
 */
import { Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { Elysia } from "elysia";
import type { ServiceAuth } from "../atproto/service-auth.ts";
import { type ManualRuns, RunRefusedError, type RunRequest } from "../pipeline/manual-runs.ts";
import { pipelineUri } from "../pipeline/workflows.ts";
import { Did } from "../tangled/lexicons.ts";
import type { Membership } from "../tangled/membership.ts";
import { callerOf, jsonBody } from "./auth.ts";
import { invalidRequest, XrpcError, xrpcJson } from "./errors.ts";

export const TRIGGER_PIPELINE = "sh.tangled.ci.triggerPipeline";

const Sha = Type.String({ pattern: "^[0-9a-f]{40}$", description: "a 40-character commit hash" });
const Branch = Type.String({ maxLength: 1024 });

const Input = Type.Object({
  repo: Type.String({ maxLength: 2048 }),
  trigger: Type.Optional(Type.Unknown()),
  workflows: Type.Optional(
    Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 50 }),
  ),
});

const Manual = Type.Object({
  $type: Type.Literal("sh.tangled.ci.trigger#manual"),
  sha: Sha,
  ref: Type.Optional(Branch),
  sourceRepo: Type.Optional(Did),
  inputs: Type.Optional(
    Type.Array(
      Type.Object({
        key: Type.String({ minLength: 1, maxLength: 256 }),
        value: Type.String({ maxLength: 64 * 1024 }),
      }),
      { maxItems: 100 },
    ),
  ),
});

const PullRequest = Type.Object({
  $type: Type.Literal("sh.tangled.ci.trigger#pullRequest"),
  sourceSha: Sha,
  targetBranch: Type.String({ minLength: 1, maxLength: 1024 }),
  sourceBranch: Type.Optional(Branch),
  sourceRepo: Type.Optional(Did),
  pull: Type.Optional(Type.String({ pattern: "^at://[^/]+/[^/]+/[^/]+$", maxLength: 2048 })),
  action: Type.Optional(Type.String()),
});

export function triggerPipelineRoute(deps: {
  auth: ServiceAuth;
  membership: Membership;
  runs: ManualRuns;
}) {
  return new Elysia({ name: "xrpc-trigger-pipeline" }).post(
    `/xrpc/${TRIGGER_PIPELINE}`,
    async ({ request }) => {
      const actor = await callerOf(deps.auth, request, TRIGGER_PIPELINE);
      const input = await jsonBody(request, Input);
      if (!Value.Check(Did, input.repo)) throw invalidRequest(`invalid repo DID "${input.repo}"`);
      const repo = deps.membership.servedRepo(input.repo);
      if (!repo) throw new XrpcError(400, "RepoNotFound", "failed to access repository");
      if (!deps.membership.hasPushRights(actor, repo)) {
        throw new XrpcError(
          400,
          "AccessControl",
          `DID does not have sufficient access permissions for this operation: ${actor}`,
        );
      }
      const run = runRequest(input.trigger);
      try {
        const pipeline = await deps.runs.run(repo, run, input.workflows, actor);
        return xrpcJson({ pipeline: pipelineUri(pipeline.knot, pipeline.rkey) });
      } catch (error) {
        if (error instanceof RunRefusedError) {
          throw new XrpcError(
            error.status,
            error.status === 400 ? "InvalidRequest" : "UpstreamFailure",
            error.message,
          );
        }
        throw error;
      }
    },
    { parse: "none" },
  );
}

function runRequest(trigger: unknown): RunRequest {
  if (trigger === undefined || trigger === null) throw invalidRequest("trigger is required");
  const type = typeof trigger === "object" && "$type" in trigger ? trigger.$type : undefined;
  if (type === "sh.tangled.ci.trigger#manual") {
    const manual = checked(Manual, trigger);
    return { kind: "manual", ...manual };
  }
  if (type === "sh.tangled.ci.trigger#pullRequest") {
    const pull = checked(PullRequest, trigger);
    return { kind: "pull_request", ...pull, sha: pull.sourceSha };
  }
  throw invalidRequest("unsupported trigger variant");
}

function checked<T extends typeof Manual | typeof PullRequest>(schema: T, value: unknown) {
  if (Value.Check(schema, value)) return value;
  const error = Value.Errors(schema, value).First();
  const where = `trigger${error?.path.replaceAll("/", ".") ?? ""}`;
  if (error?.path === "/sha" || error?.path === "/sourceSha") {
    throw invalidRequest("sha must be a 40-character commit hash");
  }
  throw invalidRequest(
    error?.value === undefined ? `${where}: required` : `${where}: ${error.message}`,
  );
}
