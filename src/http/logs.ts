/**
 * GET /logs/{knot}/{pipelineRkey}/{workflow} (WebSocket) — one workflow's log, in the upstream
 * spindle's format: one LogLine JSON object per text frame, then a close with code 1000 and
 * reason "log stream complete".
 *
 * The log is opened *before* the upgrade, so an unknown workflow is a real HTTP 404 and a
 * provider failure a real 500 that the appview's dialer can report, not an immediate close.
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
import type { OpenSockets } from "./sockets.ts";

/** Above this many buffered bytes the stream waits for the client to read. */
const HIGH_WATER = 1 << 20;
/**
 * Log streams open at once. Each one reads the CI's API with tack's token (and a running
 * build's stream polls it), while /logs needs no authentication: the cap keeps anonymous
 * viewers from spending the API budget that spawns and reconciliation depend on.
 */
export const MAX_LOG_STREAMS = 8;

const Segment = t.String({ minLength: 1, maxLength: 256 });
const LogsParams = t.Object({ knot: Segment, rkey: Segment, workflow: Segment });

export function logsRoutes(deps: {
  workflows: Workflows;
  providers: ProviderRegistry;
  sockets: OpenSockets;
  maxStreams?: number;
  log: Logger;
}) {
  return new Elysia({ name: "logs" })
    .resolve(async ({ params, status }) => {
      // The route's schema already answered 400 to bad parameters; this only narrows the type.
      if (!Value.Check(LogsParams, params)) return status(400, "bad request: malformed path\n");
      const { knot, rkey, workflow } = params;
      if (deps.sockets.count("logs") >= (deps.maxStreams ?? MAX_LOG_STREAMS)) {
        deps.log.warn("logs: too many streams open, refusing one", {
          knot,
          pipeline_rkey: rkey,
          workflow,
        });
        return status(503, "too many log streams open; try again shortly\n");
      }
      const id = { knot, pipelineRkey: rkey, name: workflow };
      const abort = new AbortController();
      try {
        const lines = await openWorkflowLogs(deps, id, abort.signal);
        return { lines, abort, id };
      } catch (error) {
        if (error instanceof LogsNotFoundError) return status(404, "logs not found\n");
        deps.log.error("logs: open failed", {
          err: error,
          knot,
          pipeline_rkey: rkey,
          workflow,
        });
        return status(500, "logs unavailable\n");
      }
    })
    .ws("/logs/:knot/:rkey/:workflow", {
      params: LogsParams,
      async open(ws) {
        const raw = ws.raw as ServerWebSocket<unknown>;
        const { lines, abort, id } = ws.data;
        deps.sockets.add(raw, "logs");
        try {
          for await (const line of lines) {
            if (abort.signal.aborted) return;
            raw.send(goJson(line));
            while (raw.getBufferedAmount() > HIGH_WATER && !abort.signal.aborted) {
              await Bun.sleep(10);
            }
          }
          if (!abort.signal.aborted) raw.close(1000, "log stream complete");
        } catch (error) {
          deps.log.error("logs: stream failed", {
            err: error,
            knot: id.knot,
            pipeline_rkey: id.pipelineRkey,
            workflow: id.name,
          });
          if (!abort.signal.aborted) raw.close(1011, "log stream failed");
        }
      },
      close(ws) {
        ws.data.abort.abort();
        deps.sockets.delete(ws.raw as ServerWebSocket<unknown>);
      },
    });
}
