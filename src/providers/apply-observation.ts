/**
 * One observation of a build (a webhook or a poll) applied for a webhook-fed provider (GitHub,
 * GitLab): the workflow's status change, the build row's update and the webhook's delivery id
 * commit in one transaction. A crash loses all three or none, so the CI's redelivery (or the
 * reconciler) applies the observation exactly once.
 */
import type { Clock } from "../clock.ts";
import type { Tx, Writer } from "../db/writer.ts";
import type { LogFields, Logger } from "../log.ts";
import type { WorkflowStatus } from "../pipeline/status.ts";
import type { StatusDetail, WorkflowId } from "../pipeline/workflows.ts";
import type { WebhookDeliveries } from "./deliveries.ts";
import type { WorkflowStore } from "./provider.ts";

export interface ObservationDeps {
  workflows: WorkflowStore;
  writer: Writer;
  deliveries: WebhookDeliveries;
  clock: Clock;
  log: Logger;
}

export interface Observation {
  /** Names the provider in the delivery ids and the status log line. */
  provider: string;
  build: { correlationId: string; workflow: WorkflowId };
  /** The provider's build rows: the observation's state and time go on the build's row. */
  rows: {
    observe(tx: Tx, correlationId: string, state: string | undefined, now: number): void;
  };
  /** The workflow's new status; undefined records the observation and changes no status. */
  status: WorkflowStatus | undefined;
  detail: StatusDetail;
  /** The CI's state for the row; undefined leaves it as it was. */
  state: string | undefined;
  deliveryId: string | undefined;
  /** Fields naming the build in the status log line (after the workflow's). */
  logFields: LogFields;
}

/**
 * Applies `observation`. With a `deliveryId`, resolves false when that delivery had already
 * been recorded (a duplicate racing this one), true otherwise.
 */
export async function applyObservation(
  deps: ObservationDeps,
  observation: Observation,
): Promise<boolean> {
  const { provider, build, status, deliveryId } = observation;
  const now = deps.clock.now();
  let first = true;
  const record = (tx: Tx) => {
    observation.rows.observe(tx, build.correlationId, observation.state, now);
    if (deliveryId !== undefined) {
      first = deps.deliveries.firstSeen(tx, provider, deliveryId, now);
    }
  };
  if (status === undefined) {
    await deps.writer.write(record);
  } else if (await deps.workflows.transition(build.workflow, status, observation.detail, record)) {
    deps.log.info(`${provider}: workflow status`, {
      knot: build.workflow.knot,
      pipeline_rkey: build.workflow.pipelineRkey,
      workflow: build.workflow.name,
      ...observation.logFields,
      status,
    });
  }
  return first;
}
