/**
 * Cancels workflows of a pipeline (sh.tangled.ci.cancelPipeline). For each one that has not
 * ended, tack publishes exactly one `cancelled` status (error "User canceled the workflow")
 * first, then asks its CI to stop the build. The order matters: from the moment the status is
 * committed nothing can move the workflow again (statuses only move forward), so a CI that
 * refuses, cannot be reached, or reports the build passed a moment later changes nothing on
 * Tangled's side; such a CI failure is logged and counted. A workflow that already ended is left
 * as it is, and one not yet handed to its CI is recorded cancelled and never handed over.
 */

import type { Logger } from "../log.ts";
import type { ProviderRegistry } from "../providers/registry.ts";
import { withTimeout } from "../timeout.ts";
import type { StoredPipeline } from "./pipelines.ts";
import { isTerminal } from "./status.ts";
import { readTackBlock } from "./workflow-yaml.ts";
import type { Workflows } from "./workflows.ts";

export const CANCELLED_ERROR = "User canceled the workflow";
/** How long a cancel waits for a CI before answering (the CI's answer is logged either way). */
const CI_CANCEL_WAIT_MS = 10_000;

export class PipelineCancel {
  private readonly log: Logger;

  constructor(
    private readonly deps: {
      workflows: Workflows;
      providers: ProviderRegistry;
      log: Logger;
      /** Called when a CI did not cancel a build tack cancelled (metrics). */
      onCiFailure?: (provider: string) => void;
    },
  ) {
    this.log = deps.log.child({ component: "cancel" });
  }

  /** Cancels `names` of `pipeline`; resolves with the workflows that were cancelled now. */
  async cancel(pipeline: StoredPipeline, names: string[]): Promise<string[]> {
    const cancelled = await Promise.all(names.map((name) => this.cancelOne(pipeline, name)));
    return names.filter((_, i) => cancelled[i]);
  }

  private async cancelOne(pipeline: StoredPipeline, name: string): Promise<boolean> {
    const id = { knot: pipeline.knot, pipelineRkey: pipeline.rkey, name };
    const log = this.log.child({ knot: id.knot, pipeline_rkey: id.pipelineRkey, workflow: name });
    const detail = { error: CANCELLED_ERROR, exitCode: -1 };
    const stored = this.deps.workflows.get(id);
    if (!stored) {
      // Not handed to a CI yet: recorded cancelled, so dispatch leaves it alone.
      const workflow = pipeline.record.workflows.find((w) => w.name === name);
      const block = readTackBlock(workflow?.raw ?? "");
      const created = await this.deps.workflows.create(
        id,
        {
          provider: block.ok ? block.provider : "",
          options: block.ok ? block.options : {},
          context: JSON.parse(JSON.stringify(pipeline.record.triggerMetadata)),
        },
        "cancelled",
        detail,
      );
      if (created) log.info("cancel: workflow cancelled before it reached its CI");
      return created || (await this.cancelOne(pipeline, name));
    }
    if (isTerminal(stored.status)) return false;
    if (!(await this.deps.workflows.transition(id, "cancelled", detail))) return false;
    log.info("cancel: workflow cancelled");
    const provider = stored.spawned ? this.deps.providers.get(stored.provider) : undefined;
    if (!provider) return true;
    try {
      await withTimeout(provider.cancel(stored), CI_CANCEL_WAIT_MS);
      log.info("cancel: build stopped on its CI", { provider: provider.name });
    } catch (error) {
      log.warn("cancel: the CI did not stop the build; it stays cancelled on Tangled", {
        provider: provider.name,
        err: error,
      });
      this.deps.onCiFailure?.(provider.name);
    }
    return true;
  }
}
