/**
 * Resolves /logs/{knot}/{rkey}/{workflow} to a stream of LogLines, before any upgrade.
 * Unknown workflow → LogsNotFoundError (HTTP 404). A workflow that never reached a provider
 * shows its error as the upstream spindle does (one control line, one data line). Otherwise
 * the provider serves the log; its failures propagate (HTTP 500).
 */
import { type LogLine, LogsNotFoundError } from "../providers/provider.ts";
import type { ProviderRegistry } from "../providers/registry.ts";
import type { WorkflowId, Workflows } from "./workflows.ts";

export async function openWorkflowLogs(
  deps: { workflows: Workflows; providers: ProviderRegistry },
  id: WorkflowId,
  signal: AbortSignal,
): Promise<AsyncIterable<LogLine>> {
  const workflow = deps.workflows.get(id);
  if (!workflow)
    throw new LogsNotFoundError(`no workflow ${id.name} in pipeline ${id.pipelineRkey}`);
  if (!workflow.spawned && workflow.error) return errorLog(workflow.error);
  const provider = deps.providers.get(workflow.provider);
  if (provider) return provider.logs(workflow, signal);
  if (workflow.error) return errorLog(workflow.error);
  throw new LogsNotFoundError(`provider ${workflow.provider} is not configured on this spindle`);
}

/**
 * The upstream spindle's exact shape for a workflow that failed before it ran: a nameless
 * control line (no step_status, so the appview opens no block) and the error as data.
 */
async function* errorLog(error: string): AsyncGenerator<LogLine> {
  const time = "0001-01-01T00:00:00Z";
  yield { kind: "control", content: "", time, step_id: 0, step_kind: 1 };
  yield { kind: "data", content: error, time, step_id: 0 };
}
