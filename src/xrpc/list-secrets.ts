/**
 * GET /xrpc/sh.tangled.repo.listSecrets?repo=<at-uri> (service auth) — the repo's secrets as
 * `{"secrets": [{createdAt, createdBy, key, repo}]}`, keys and who added them when: never a
 * value. No secrets: an empty list.
 */
import { Type } from "@sinclair/typebox";
import { Elysia } from "elysia";
import type { ServiceAuth } from "../atproto/service-auth.ts";
import type { Secrets } from "../secrets/store.ts";
import type { Membership } from "../tangled/membership.ts";
import { callerOf } from "./auth.ts";
import { xrpcJson } from "./errors.ts";
import { readParams } from "./params.ts";
import { secretsRepo } from "./secret-access.ts";

export const LIST_SECRETS = "sh.tangled.repo.listSecrets";

const Params = Type.Object({ repo: Type.String({ minLength: 1, maxLength: 2048 }) });

export function listSecretsRoute(deps: {
  auth: ServiceAuth;
  membership: Membership;
  secrets: Secrets;
}) {
  return new Elysia({ name: "xrpc-list-secrets" }).get(
    `/xrpc/${LIST_SECRETS}`,
    async ({ request }) => {
      const actor = await callerOf(deps.auth, request, LIST_SECRETS);
      const { repo: uri } = readParams(new URL(request.url), Params);
      const repo = secretsRepo(deps.membership, uri, actor);
      return xrpcJson({
        secrets: deps.secrets.list(repo.repoDid).map((secret) => ({
          createdAt: secret.createdAt,
          createdBy: secret.createdBy,
          key: secret.key,
          repo: uri,
        })),
      });
    },
  );
}
