/**
 * `tack check` for Buildkite: is the token accepted, does it carry the scopes tack needs, and
 * can it see the configured organization. Each result says what to fix; none repeats the
 * token (only its scopes and Buildkite's messages are shown).
 */

import { ApiError } from "../http-client.ts";
import type { ProviderCheck } from "../provider.ts";
import type { BuildkiteClient } from "./client.ts";

/** read_builds: webhook confirmation, polls, /logs; write_builds: create, cancel; logs. */
export const REQUIRED_SCOPES = ["read_builds", "write_builds", "read_build_logs"];

export async function checkBuildkite(
  client: BuildkiteClient,
  org: string,
): Promise<ProviderCheck[]> {
  let scopes: string[];
  try {
    scopes = (await client.accessToken()).scopes;
  } catch (error) {
    return [{ name: "buildkite token", ok: false, detail: tokenProblem(error) }];
  }
  const checks: ProviderCheck[] = [{ name: "buildkite token", ok: true, detail: "accepted" }];
  const missing = REQUIRED_SCOPES.filter((scope) => !scopes.includes(scope));
  checks.push(
    missing.length === 0
      ? { name: "buildkite token scopes", ok: true, detail: REQUIRED_SCOPES.join(", ") }
      : {
          name: "buildkite token scopes",
          ok: false,
          detail: `missing ${missing.join(", ")}: edit the token at https://buildkite.com/user/api-access-tokens (it has ${scopes.join(", ") || "no scopes"})`,
        },
  );
  checks.push(await checkOrganization(client, org, scopes));
  return checks;
}

async function checkOrganization(
  client: BuildkiteClient,
  org: string,
  scopes: string[],
): Promise<ProviderCheck> {
  const name = `buildkite organization ${org}`;
  if (!scopes.includes("read_organizations")) {
    return {
      name,
      ok: true,
      detail: "not verified: the token lacks read_organizations (optional)",
    };
  }
  try {
    await client.organization(org);
    return { name, ok: true, detail: "visible to the token" };
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      return {
        name,
        ok: false,
        detail:
          "not found: check TACK_BUILDKITE_ORG and that the token is allowed this organization",
      };
    }
    return { name, ok: false, detail: describe(error) };
  }
}

function tokenProblem(error: unknown): string {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
    return `rejected by Buildkite (HTTP ${error.status}${error.details.excerpt ? `: ${error.details.excerpt}` : ""}): check TACK_BUILDKITE_TOKEN`;
  }
  return describe(error);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
