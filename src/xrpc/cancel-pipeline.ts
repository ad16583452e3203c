/**
 * POST /xrpc/sh.tangled.ci.cancelPipeline (service auth) — the appview's "cancel" button.
 *
 * In order: the token (403 Auth); the body `{repo, pipeline, workflows?}`; `pipeline` a TID
 * (400 InvalidRequest); `repo` a repo DID this spindle serves (400 RepoNotFound) on which the
 * caller has push rights (400 AccessControl); the pipeline exists (404 PipelineNotFound) and
 * belongs to that repo (400 AccessControl: nobody cancels another repo's runs through their
 * own); listed workflows belong to it (404 WorkflowNotFound). Then every listed workflow (all
 * of them when none are listed) that has not ended is cancelled (src/pipeline/cancel.ts).
 * Answer: 200 with an empty body.
 */
import { Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { Elysia } from "elysia";
import type { ServiceAuth } from "../atproto/service-auth.ts";
import type { PipelineCancel } from "../pipeline/cancel.ts";
import type { Pipelines } from "../pipeline/pipelines.ts";
import { uniqueWorkflows } from "../pipeline/runner.ts";
import { Did, Tid } from "../tangled/lexicons.ts";
import type { Membership } from "../tangled/membership.ts";
import { callerOf, jsonBody } from "./auth.ts";
import { invalidRequest, XrpcError } from "./errors.ts";

export const CANCEL_PIPELINE = "sh.tangled.ci.cancelPipeline";

const Input = Type.Object({
  repo: Type.String({ maxLength: 2048 }),
  pipeline: Type.String({ maxLength: 64 }),
  workflows: Type.Optional(
    Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 50 }),
  ),
});

export function cancelPipelineRoute(deps: {
  auth: ServiceAuth;
  membership: Membership;
  pipelines: Pipelines;
  cancel: PipelineCancel;
}) {
  return new Elysia({ name: "xrpc-cancel-pipeline" }).post(
    `/xrpc/${CANCEL_PIPELINE}`,
    async ({ request }) => {
      const actor = await callerOf(deps.auth, request, CANCEL_PIPELINE);
      const input = await jsonBody(request, Input);
      if (!Value.Check(Tid, input.pipeline)) {
        throw invalidRequest(`invalid pipeline TID "${input.pipeline}"`);
      }
      if (!Value.Check(Did, input.repo)) throw invalidRequest(`invalid repo DID "${input.repo}"`);
      const repo = deps.membership.servedRepo(input.repo);
      if (!repo) throw new XrpcError(400, "RepoNotFound", "failed to access repository");
      const denied = new XrpcError(
        400,
        "AccessControl",
        `DID does not have sufficient access permissions for this operation: ${actor}`,
      );
      if (!deps.membership.hasPushRights(actor, repo)) throw denied;
      const pipeline = deps.pipelines.get(input.pipeline);
      if (!pipeline) {
        throw new XrpcError(404, "PipelineNotFound", `pipeline not found: ${input.pipeline}`);
      }
      if (pipeline.repo !== input.repo) throw denied;
      const names = uniqueWorkflows(pipeline).map((workflow) => workflow.name);
      const selected = input.workflows?.length ? [...new Set(input.workflows)] : names;
      const unknown = selected.find((name) => !names.includes(name));
      if (unknown !== undefined) {
        throw new XrpcError(
          404,
          "WorkflowNotFound",
          `pipeline ${pipeline.rkey} has no workflow ${unknown}`,
        );
      }
      await deps.cancel.cancel(pipeline, selected);
      return new Response(null, { status: 200 });
    },
    { parse: "none" },
  );
}
