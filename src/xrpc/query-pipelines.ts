/**
 * GET /xrpc/sh.tangled.ci.queryPipelines (no auth) — a repo's pipelines, newest first, as the
 * appview's repo page, commit list and pull requests read them.
 *
 * Parameters: `repo` (required, the repo DID; owner DID for pipelines that predate repo DIDs),
 * repeated `commits` (at most one pipeline per commit, the newest, as the lexicon promises),
 * repeated `kinds`, `limit` (default 30, larger values capped at 250), `cursor` (a `created`
 * from an earlier page: only older pipelines). `total` counts every match from the cursor on;
 * `cursor` is set only when the page is full. Bad parameters are 400 InvalidRequest, never a
 * silent first page. Answering reads the pipelines table's (repo, created) indexes only.
 */
import { Type } from "@sinclair/typebox";
import { Elysia } from "elysia";
import { type Db, readTogether } from "../db/client.ts";
import { toCiPipelines } from "../pipeline/ci-pipeline.ts";
import type { Pipelines } from "../pipeline/pipelines.ts";
import type { Workflows } from "../pipeline/workflows.ts";
import { CommitId, Did, TriggerKind } from "../tangled/lexicons.ts";
import { xrpcJson } from "./errors.ts";
import { readParams } from "./params.ts";

export const DEFAULT_LIMIT = 30;
export const MAX_LIMIT = 250;

const Params = Type.Object({
  repo: Did,
  commits: Type.Array(CommitId, { maxItems: MAX_LIMIT }),
  kinds: Type.Array(TriggerKind),
  limit: Type.Optional(
    Type.String({ pattern: "^0*[1-9][0-9]{0,8}$", description: "a whole number from 1" }),
  ),
  cursor: Type.Optional(
    Type.String({
      pattern: "^[0-9]{1,19}$",
      description: "a cursor from an earlier page (decimal)",
    }),
  ),
});

export function queryPipelinesRoute(deps: { db: Db; pipelines: Pipelines; workflows: Workflows }) {
  return new Elysia({ name: "xrpc-query-pipelines" }).get(
    "/xrpc/sh.tangled.ci.queryPipelines",
    ({ request }) => {
      const params = readParams(new URL(request.url), Params, ["commits", "kinds"]);
      const limit = Math.min(Number(params.limit ?? DEFAULT_LIMIT), MAX_LIMIT);
      // The page, its total and its workflows from one snapshot (and one read transaction).
      const { page, pipelines } = readTogether(deps.db, () => {
        const page = deps.pipelines.query({
          repo: params.repo,
          commits: params.commits,
          kinds: params.kinds,
          limit,
          before: params.cursor === undefined ? undefined : BigInt(params.cursor),
        });
        return { page, pipelines: toCiPipelines(page.pipelines, deps.workflows) };
      });
      const last = page.pipelines.at(-1);
      return xrpcJson({
        cursor: page.pipelines.length === limit && last ? String(last.created) : undefined,
        pipelines,
        total: page.total,
      });
    },
  );
}
