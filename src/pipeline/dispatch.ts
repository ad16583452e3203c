/**
 * Hands one workflow of a pipeline trigger to its provider.
 *
 * A workflow that cannot reach a provider (no usable `tack:` block, unknown or unconfigured
 * provider, options the provider rejects) gets a single `failed` status whose `error` says
 * what is wrong, and its /logs shows that same message. Otherwise `pending` is committed
 * first, then `spawn`; a spawn that throws becomes `failed` with the provider's message.
 *
 * Idempotent per workflow: a workflow already known is left alone, except one that is still
 * `pending` and never reached its provider (a crash between the two steps), which is spawned
 * now. That window is the only place a provider can see a spawn twice.
 */
import type { JsonValue } from "../eventlog/canonical-json.ts";
import type { Logger } from "../log.ts";
import type { ProviderRegistry } from "../providers/registry.ts";
import type { StoredWorkflow, WorkflowId, Workflows } from "./workflows.ts";

export interface WorkflowDispatch {
  id: WorkflowId;
  /** The provider named by the workflow's `tack:` block ("" when there is none). */
  provider: string;
  options: JsonValue;
  /** The trigger's metadata, kept for providers that build from it. */
  context: JsonValue;
  /** Set when the workflow is already known to be unusable (e.g. no `tack:` block). */
  problem?: string;
}

export type DispatchOutcome = "spawned" | "rejected" | "duplicate" | "spawn-failed";

export interface DispatchDeps {
  workflows: Workflows;
  providers: ProviderRegistry;
  log: Logger;
  /**
   * The TACK_* variables a build receives besides its trigger (the one-time secrets token):
   * minted afresh for every spawn, so a build created again after a crash gets its own.
   */
  buildVariables?: (workflow: StoredWorkflow) => Promise<Record<string, string>>;
}

export async function dispatchWorkflow(
  deps: DispatchDeps,
  dispatch: WorkflowDispatch,
): Promise<DispatchOutcome> {
  const { id } = dispatch;
  const log = deps.log.child({
    knot: id.knot,
    pipeline_rkey: id.pipelineRkey,
    workflow: id.name,
    provider: dispatch.provider,
  });
  const init = {
    provider: dispatch.provider,
    options: dispatch.options,
    context: dispatch.context,
  };
  const provider = dispatch.problem ? undefined : deps.providers.get(dispatch.provider);
  const problem =
    dispatch.problem ??
    (provider
      ? provider.checkOptions(dispatch.options)
      : `unknown provider "${dispatch.provider}": this spindle runs ${deps.providers
          .all()
          .map((p) => `"${p.name}"`)
          .join(", ")}`);
  if (!provider || problem) {
    const error = problem ?? "provider rejected the workflow";
    const created = await deps.workflows.create(id, init, "failed", { error, exitCode: -1 });
    if (created)
      log.warn("dispatch: workflow failed before reaching a provider", { reason: error });
    return created ? "rejected" : "duplicate";
  }
  const created = await deps.workflows.create(id, init, "pending");
  const stored = deps.workflows.get(id);
  if (!stored) throw new Error("dispatch: workflow vanished after create");
  if (!created && (stored.spawned || stored.status !== "pending")) return "duplicate";
  try {
    // Build variables (the secrets URL and token) come from the core once it issues them.
    await provider.spawn(stored, (await deps.buildVariables?.(stored)) ?? {});
    await deps.workflows.markSpawned(id);
    log.info("dispatch: workflow spawned");
    // Cancelled while its build was being created: stop the build it now has.
    if (deps.workflows.get(id)?.status === "cancelled") {
      await provider
        .cancel(stored)
        .catch((error: unknown) =>
          log.warn("dispatch: cancelling the new build failed", { err: error }),
        );
    }
    return "spawned";
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log.warn("dispatch: spawn failed", { err: message });
    await deps.workflows.transition(id, "failed", { error: message, exitCode: -1 });
    return "spawn-failed";
  }
}
