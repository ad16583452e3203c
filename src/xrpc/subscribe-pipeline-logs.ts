/**
 * WS /xrpc/sh.tangled.ci.subscribePipelineLogs (no auth) — a pipeline's logs as today's
 * appview reads them: atproto event-stream framing, each message one binary frame holding two
 * DAG-CBOR values, a header `{t, op: 1}` and a body; `#control` bodies mark steps, `#data`
 * bodies carry output lines. The lines are the same ones /logs serves (the provider's log).
 *
 * `pipeline` (a TID) and repeated `workflows` (none = every workflow of the pipeline) are
 * checked before the upgrade, so errors are plain XRPC JSON: a malformed id or a pipeline
 * without workflows is 400 InvalidRequest, an unknown pipeline 404 PipelineNotFound, a workflow
 * the pipeline does not have 404 WorkflowNotFound, a full house 503. After the upgrade: pings
 * when idle, and a close 1000 once every selected workflow's log is complete.
 */
import { Type } from "@sinclair/typebox";
import type { ServerWebSocket } from "bun";
import { Elysia } from "elysia";
import { type LogSource, type LogStreamSlots, pumpLogs } from "../http/log-stream.ts";
import type { OpenSockets } from "../http/sockets.ts";
import type { Logger } from "../log.ts";
import { openWorkflowLogs } from "../pipeline/logs.ts";
import type { Pipelines } from "../pipeline/pipelines.ts";
import { uniqueWorkflows } from "../pipeline/runner.ts";
import type { Workflows } from "../pipeline/workflows.ts";
import { type LogLine, LogsNotFoundError } from "../providers/provider.ts";
import type { ProviderRegistry } from "../providers/registry.ts";
import { Tid } from "../tangled/lexicons.ts";
import { XrpcError, xrpcErrorBody } from "./errors.ts";
import { readParams } from "./params.ts";

const PATH = "/xrpc/sh.tangled.ci.subscribePipelineLogs";
const Params = Type.Object({
  pipeline: Tid,
  workflows: Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 50 }),
});

type LogFramer = (workflow: string, line: LogLine) => Uint8Array;

let framer: Promise<LogFramer> | undefined;
/**
 * The encoder of log frames, loaded with the first log stream: DAG-CBOR builds its tables when
 * its module loads, which start-up need not pay for.
 */
function logFramer(): Promise<LogFramer> {
  framer ??= import("@ipld/dag-cbor").then(({ encode }) => {
    const headers = {
      control: encode({ t: "#control", op: 1 }),
      data: encode({ t: "#data", op: 1 }),
    };
    return (workflow, line) => frameOf(encode, headers, workflow, line);
  });
  return framer;
}

export function subscribePipelineLogsRoute(deps: {
  pipelines: Pipelines;
  workflows: Workflows;
  providers: ProviderRegistry;
  sockets: OpenSockets;
  logSlots: LogStreamSlots;
  log: Logger;
}) {
  return new Elysia({ name: "xrpc-subscribe-pipeline-logs" })
    .resolve(async ({ request, set, status }) => {
      try {
        return await openPipelineLogs(deps, new URL(request.url));
      } catch (error) {
        if (!(error instanceof XrpcError)) throw error;
        // Answered instead of the upgrade.
        set.headers["content-type"] = "application/json";
        return status(error.status, xrpcErrorBody(error));
      }
    })
    .ws(PATH, {
      async open(ws) {
        const raw = ws.raw as ServerWebSocket<unknown>;
        const { sources, abort, slot, log, frame } = ws.data;
        slot.claim();
        deps.sockets.add(raw, "logs");
        await pumpLogs(raw, sources, frame, abort, log);
      },
      message() {
        // Clients have nothing to say on this stream; what they send is read and dropped.
      },
      close(ws) {
        ws.data.abort.abort();
        ws.data.slot.release();
        deps.sockets.delete(ws.raw as ServerWebSocket<unknown>);
      },
    });
}

async function openPipelineLogs(deps: Parameters<typeof subscribePipelineLogsRoute>[0], url: URL) {
  const params = readParams(url, Params, ["workflows"]);
  const pipeline = deps.pipelines.get(params.pipeline);
  if (!pipeline) {
    throw new XrpcError(404, "PipelineNotFound", `pipeline not found: ${params.pipeline}`);
  }
  const names = uniqueWorkflows(pipeline).map((workflow) => workflow.name);
  const selected = params.workflows.length > 0 ? [...new Set(params.workflows)] : names;
  if (selected.length === 0)
    throw new XrpcError(400, "InvalidRequest", "no workflows specified or found");
  const unknown = selected.find((name) => !names.includes(name));
  if (unknown !== undefined) {
    throw new XrpcError(
      404,
      "WorkflowNotFound",
      `pipeline ${pipeline.rkey} has no workflow ${unknown}`,
    );
  }
  const log = deps.log.child({ knot: pipeline.knot, pipeline_rkey: pipeline.rkey });
  const abort = new AbortController();
  const slot = deps.logSlots.tryAcquire(() => abort.abort());
  if (!slot) {
    log.warn("logs: too many streams open, refusing one");
    throw new XrpcError(503, "ServiceBusy", "too many log streams open; try again shortly");
  }
  try {
    const sources: LogSource[] = await Promise.all(
      selected.map(async (workflow) => ({
        workflow,
        lines: await openWorkflowLogs(
          deps,
          { knot: pipeline.knot, pipelineRkey: pipeline.rkey, name: workflow },
          abort.signal,
        ),
      })),
    );
    return { sources, abort, slot, log, frame: await logFramer() };
  } catch (error) {
    slot.release();
    abort.abort();
    if (error instanceof LogsNotFoundError)
      throw new XrpcError(404, "WorkflowNotFound", error.message);
    log.error("logs: open failed", { err: error });
    throw new XrpcError(500, "InternalServerError", "the workflow's log cannot be read right now");
  }
}

/**
 * One LogLine as an event-stream message. Control lines: `kind` is "user" for a workflow's own
 * steps and "system" otherwise; data lines end with a newline; `time` is RFC 3339 at whole
 * seconds (a missing time becomes now).
 */
function frameOf(
  encode: (value: unknown) => Uint8Array,
  headers: { control: Uint8Array; data: Uint8Array },
  workflow: string,
  line: LogLine,
): Uint8Array {
  const time = wholeSeconds(line.time);
  if (line.kind === "control") {
    const body: Record<string, string | number> = {
      kind: line.step_kind ? "user" : "system",
      step: line.step_id,
      time,
      content: line.content,
      workflow,
    };
    if (line.step_status) body.status = line.step_status;
    if (line.step_command) body.command = line.step_command;
    return concat(headers.control, encode(body));
  }
  return concat(
    headers.data,
    encode({
      step: line.step_id,
      time,
      stream: line.stream === "stderr" ? "stderr" : "stdout",
      content: `${line.content}\n`,
      workflow,
    }),
  );
}

function wholeSeconds(time: string): string {
  const parsed = Date.parse(time);
  const date =
    Number.isNaN(parsed) || parsed <= Date.parse("0001-01-02T00:00:00Z")
      ? new Date()
      : new Date(parsed);
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}
