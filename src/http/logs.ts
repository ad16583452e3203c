/**
 * GET /logs/{knot}/{pipelineRkey}/{workflow} (WebSocket) — one workflow's log for older
 * appviews, in the upstream spindle's format: one LogLine JSON object per text frame, then a
 * close with code 1000 and reason "log stream complete".
 *
 * The log is opened *before* the upgrade, so an unknown workflow is a real HTTP 404, a provider
 * failure a real 500 and a full house (see src/http/log-stream.ts) a 503 that the appview's
 * dialer can report, not an immediate close.
 */

import { Value } from "@sinclair/typebox/value";
import type { ServerWebSocket } from "bun";
import { Elysia, t } from "elysia";
import { goJson } from "../eventlog/canonical-json.ts";
import type { Logger } from "../log.ts";
import { openWorkflowLogs } from "../pipeline/logs.ts";
import type { Workflows } from "../pipeline/workflows.ts";
import { LogsNotFoundError } from "../providers/provider.ts";
import type { ProviderRegistry } from "../providers/registry.ts";
import { type LogStreamSlots, pumpLogs } from "./log-stream.ts";
import type { OpenSockets } from "./sockets.ts";

const Segment = t.String({ minLength: 1, maxLength: 256 });
const LogsParams = t.Object({ knot: Segment, rkey: Segment, workflow: Segment });

export function logsRoutes(deps: {
  workflows: Workflows;
  providers: ProviderRegistry;
  sockets: OpenSockets;
  logSlots: LogStreamSlots;
  log: Logger;
}) {
  return new Elysia({ name: "logs" })
    .resolve(async ({ params, status }) => {
      // The route's schema already answered 400 to bad parameters; this only narrows the type.
      if (!Value.Check(LogsParams, params)) return status(400, "bad request: malformed path\n");
      const { knot, rkey, workflow } = params;
      const log = deps.log.child({ knot, pipeline_rkey: rkey, workflow });
      const abort = new AbortController();
      const slot = deps.logSlots.tryAcquire(() => abort.abort());
      if (!slot) {
        log.warn("logs: too many streams open, refusing one");
        return status(503, "too many log streams open; try again shortly\n");
      }
      try {
        const lines = await openWorkflowLogs(
          deps,
          { knot, pipelineRkey: rkey, name: workflow },
          abort.signal,
        );
        return { lines, abort, slot, log };
      } catch (error) {
        slot.release();
        if (error instanceof LogsNotFoundError) return status(404, "logs not found\n");
        log.error("logs: open failed", { err: error });
        return status(500, "logs unavailable\n");
      }
    })
    .ws("/logs/:knot/:rkey/:workflow", {
      params: LogsParams,
      async open(ws) {
        const raw = ws.raw as ServerWebSocket<unknown>;
        const { lines, abort, slot, log } = ws.data;
        slot.claim();
        deps.sockets.add(raw, "logs");
        await pumpLogs(
          raw,
          [{ workflow: ws.data.params.workflow, lines }],
          (_, line) => goJson(line),
          abort,
          log,
        );
      },
      close(ws) {
        ws.data.abort.abort();
        ws.data.slot.release();
        deps.sockets.delete(ws.raw as ServerWebSocket<unknown>);
      },
    });
}
