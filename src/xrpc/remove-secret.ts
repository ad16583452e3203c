/**
 * POST /xrpc/sh.tangled.repo.removeSecret (service auth) — `{repo, key}`: forgets a secret.
 * A key the repo does not have is 400 InvalidRequest. Answer: 200, empty body.
 */
import { Type } from "@sinclair/typebox";
import { Elysia } from "elysia";
import type { ServiceAuth } from "../atproto/service-auth.ts";
import type { Logger } from "../log.ts";
import { MAX_KEY_LENGTH, type Secrets } from "../secrets/store.ts";
import type { Membership } from "../tangled/membership.ts";
import { callerOf, jsonBody } from "./auth.ts";
import { invalidRequest } from "./errors.ts";
import { secretsRepo } from "./secret-access.ts";

export const REMOVE_SECRET = "sh.tangled.repo.removeSecret";

const Input = Type.Object({
  repo: Type.String({ maxLength: 2048 }),
  key: Type.String({ minLength: 1, maxLength: MAX_KEY_LENGTH }),
});

export function removeSecretRoute(deps: {
  auth: ServiceAuth;
  membership: Membership;
  secrets: Secrets;
  log: Logger;
}) {
  return new Elysia({ name: "xrpc-remove-secret" }).post(
    `/xrpc/${REMOVE_SECRET}`,
    async ({ request }) => {
      const actor = await callerOf(deps.auth, request, REMOVE_SECRET);
      const input = await jsonBody(request, Input);
      const repo = secretsRepo(deps.membership, input.repo, actor);
      if (!(await deps.secrets.remove(repo.repoDid, input.key))) {
        throw invalidRequest("key not found");
      }
      deps.log.info("secret: removed", { repo: repo.repoDid, key: input.key, actor });
      return new Response(null, { status: 200 });
    },
    { parse: "none" },
  );
}
