/**
 * GET /secrets — a build fetching its repo's secrets with the one-time token tack gave it
 * (`Authorization: Bearer $TACK_SECRETS_TOKEN`). The token is used up by this request, and
 * only works while its workflow runs and within an hour. Answer: `{"secrets": [{key, value}]}`,
 * or with `?format=env` one `export KEY='value'` line per secret, quoted for a POSIX shell so
 * `eval` is safe. Any problem with the token is the same 401, telling a stranger nothing.
 * Never cached; values never logged.
 */
import { Elysia } from "elysia";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { isTerminal } from "../pipeline/status.ts";
import type { Workflows } from "../pipeline/workflows.ts";
import type { Secrets } from "../secrets/store.ts";
import type { SecretTokens } from "../secrets/tokens.ts";

export function secretsRoutes(deps: {
  tokens: SecretTokens;
  secrets: Secrets;
  workflows: Workflows;
  clock: Clock;
  log: Logger;
}) {
  return new Elysia({ name: "secrets" }).get("/secrets", async ({ request }) => {
    const header = request.headers.get("authorization") ?? "";
    const token = header.startsWith("Bearer ") ? header.slice("Bearer ".length).trim() : "";
    const grant =
      /^[A-Za-z0-9_-]{43}$/.test(token) &&
      (await deps.tokens.redeem(token, deps.clock.now(), (candidate) => {
        const workflow = deps.workflows.get({
          knot: candidate.knot,
          pipelineRkey: candidate.pipelineRkey,
          name: candidate.workflow,
        });
        return workflow !== undefined && !isTerminal(workflow.status);
      }));
    if (!grant) {
      return new Response("invalid, used or expired secrets token\n", {
        status: 401,
        headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
      });
    }
    const values = deps.secrets.valuesFor(grant.repoDid);
    deps.log.info("secrets: delivered to a build", {
      knot: grant.knot,
      pipeline_rkey: grant.pipelineRkey,
      workflow: grant.workflow,
      count: values.length,
    });
    if (new URL(request.url).searchParams.get("format") === "env") {
      const lines = values.map(({ key, value }) => `export ${key}=${shellQuote(value)}\n`);
      return new Response(lines.join(""), {
        headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
      });
    }
    return new Response(`${JSON.stringify({ secrets: values })}\n`, {
      headers: { "content-type": "application/json", "cache-control": "no-store" },
    });
  });
}

/** A single-quoted shell word: nothing inside is special except `'`, written `'\''`. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}
