/**
 * POST /xrpc/sh.tangled.repo.addSecret (service auth) — `{repo, key, value}`: stores a secret
 * for the repo's builds, sealed at rest. `key` is a shell variable name (it becomes
 * `export KEY=…` in a build); a key the repo already has is refused (remove it first). The
 * value is never logged, echoed or shown again. Answer: 200, empty body.
 */
import { Type } from "@sinclair/typebox";
import { Elysia } from "elysia";
import type { ServiceAuth } from "../atproto/service-auth.ts";
import type { Logger } from "../log.ts";
import {
  MAX_KEY_LENGTH,
  MAX_VALUE_BYTES,
  SECRET_KEY_PATTERN,
  type Secrets,
} from "../secrets/store.ts";
import type { Membership } from "../tangled/membership.ts";
import { callerOf, jsonBody } from "./auth.ts";
import { invalidRequest } from "./errors.ts";
import { secretsRepo } from "./secret-access.ts";

export const ADD_SECRET = "sh.tangled.repo.addSecret";

const Input = Type.Object({
  repo: Type.String({ maxLength: 2048 }),
  key: Type.String({ minLength: 1, maxLength: MAX_KEY_LENGTH }),
  value: Type.String({ minLength: 1 }),
});

export function addSecretRoute(deps: {
  auth: ServiceAuth;
  membership: Membership;
  secrets: Secrets;
  log: Logger;
}) {
  return new Elysia({ name: "xrpc-add-secret" }).post(
    `/xrpc/${ADD_SECRET}`,
    async ({ request }) => {
      const actor = await callerOf(deps.auth, request, ADD_SECRET);
      const input = await jsonBody(request, Input);
      const repo = secretsRepo(deps.membership, input.repo, actor);
      if (!SECRET_KEY_PATTERN.test(input.key))
        throw invalidRequest("key is not a valid identifier");
      if (Buffer.byteLength(input.value) > MAX_VALUE_BYTES) {
        throw invalidRequest(`value is longer than ${MAX_VALUE_BYTES} bytes`);
      }
      const added = await deps.secrets.add(
        {
          repoDid: repo.repoDid,
          key: input.key,
          createdAt: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
          createdBy: actor,
        },
        input.value,
      );
      if (!added) throw invalidRequest("key already present");
      deps.log.info("secret: added", { repo: repo.repoDid, key: input.key, actor });
      return new Response(null, { status: 200 });
    },
    { parse: "none" },
  );
}
