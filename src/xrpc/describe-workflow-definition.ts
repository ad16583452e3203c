/**
 * GET /xrpc/sh.tangled.ci.describeWorkflowDefinition (no auth) — the fingerprint of a repo's
 * workflow definition at a commit, which the appview compares between commits (e.g. to warn
 * that a pull request changes CI). Files come from the repo's knot over XRPC and are cached per
 * (repo, commit): a commit's files never change.
 *
 * `repo` must be a repo this spindle serves (400 RepoNotFound otherwise); `sha` is a 40-hex
 * commit (400 InvalidRequest); `sourceRepo`, a fork, is read from the fork's knot (known here,
 * or named by the fork's DID document). A commit the knot does not have is 400
 * InvalidRequest; a knot that cannot be read is 502, a fetch queue that is full 503.
 */
import { Type } from "@sinclair/typebox";
import { Elysia } from "elysia";
import type { IdentityResolver } from "../atproto/identity.ts";
import type { PublicHosts } from "../net/public-hosts.ts";
import { fingerprintWorkflows } from "../pipeline/fingerprint.ts";
import { ForkSourceError, forkAtKnot } from "../tangled/fork-source.ts";
import { KnotXrpcError } from "../tangled/knot-xrpc.ts";
import { Did } from "../tangled/lexicons.ts";
import type { Membership } from "../tangled/membership.ts";
import {
  repoAtKnot,
  type WorkflowFiles,
  WorkflowFilesBusyError,
} from "../tangled/workflow-files.ts";
import { XrpcError, xrpcJson } from "./errors.ts";
import { readParams } from "./params.ts";

const Params = Type.Object({
  repo: Did,
  sha: Type.String({
    pattern: "^[0-9a-f]{40}$",
    description: "a 40-character commit hash (lowercase hex)",
  }),
  sourceRepo: Type.Optional(Did),
});

export function describeWorkflowDefinitionRoute(deps: {
  membership: Membership;
  identities: IdentityResolver;
  publicHosts: PublicHosts;
  workflowFiles: WorkflowFiles;
}) {
  return new Elysia({ name: "xrpc-describe-workflow-definition" }).get(
    "/xrpc/sh.tangled.ci.describeWorkflowDefinition",
    async ({ request }) => {
      const params = readParams(new URL(request.url), Params);
      const repo = deps.membership.servedRepo(params.repo);
      if (!repo)
        throw new XrpcError(
          400,
          "RepoNotFound",
          `repo ${params.repo} is not served by this spindle`,
        );
      try {
        const source =
          params.sourceRepo && params.sourceRepo !== params.repo
            ? await forkAtKnot(params.sourceRepo, deps)
            : repoAtKnot(repo);
        const files = await deps.workflowFiles.load(source, params.sha);
        return xrpcJson({
          derived: true,
          hash: fingerprintWorkflows(files),
          workflows: files.length > 0 ? files.map((file) => file.name) : undefined,
        });
      } catch (error) {
        if (error instanceof ForkSourceError) {
          throw error.retryable
            ? new XrpcError(502, "UpstreamFailure", error.message)
            : new XrpcError(400, "InvalidRequest", error.message);
        }
        if (error instanceof WorkflowFilesBusyError)
          throw new XrpcError(503, "ServiceBusy", error.message);
        if (error instanceof KnotXrpcError && error.xrpcError === "RefNotFound") {
          throw new XrpcError(400, "InvalidRequest", `commit ${params.sha} is not in the repo`);
        }
        if (error instanceof KnotXrpcError) {
          throw new XrpcError(
            502,
            "UpstreamFailure",
            `cannot read the workflows: ${error.message}`,
          );
        }
        throw error;
      }
    },
  );
}
