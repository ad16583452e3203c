/**
 * GET /xrpc/sh.tangled.ci.getPipeline (no auth) — one pipeline by its id, as the bare
 * sh.tangled.ci.pipeline object. Ids are this spindle's: no repo is needed. A malformed id is
 * 400 InvalidRequest, an unknown one 404 PipelineNotFound (the appview shows "not found" for
 * any error).
 */
import { Type } from "@sinclair/typebox";
import { Elysia } from "elysia";
import { type Db, readTogether } from "../db/client.ts";
import { toCiPipeline } from "../pipeline/ci-pipeline.ts";
import type { Pipelines } from "../pipeline/pipelines.ts";
import type { Workflows } from "../pipeline/workflows.ts";
import { Tid } from "../tangled/lexicons.ts";
import { XrpcError, xrpcJson } from "./errors.ts";
import { readParams } from "./params.ts";

const Params = Type.Object({ pipeline: Tid });

export function getPipelineRoute(deps: { db: Db; pipelines: Pipelines; workflows: Workflows }) {
  return new Elysia({ name: "xrpc-get-pipeline" }).get(
    "/xrpc/sh.tangled.ci.getPipeline",
    ({ request }) => {
      const { pipeline: id } = readParams(new URL(request.url), Params);
      // The pipeline and its workflows from one snapshot (and one read transaction).
      const found = readTogether(deps.db, () => {
        const pipeline = deps.pipelines.get(id);
        return (
          pipeline &&
          toCiPipeline(pipeline, deps.workflows.ofPipeline(pipeline.knot, pipeline.rkey))
        );
      });
      if (!found) throw new XrpcError(404, "PipelineNotFound", `pipeline not found: ${id}`);
      return xrpcJson(found);
    },
  );
}
