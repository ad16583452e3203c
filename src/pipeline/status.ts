/**
 * Workflow statuses as Tangled understands them (sh.tangled.pipeline.status) and the rule that
 * they only move forward: pending → running → one terminal state, never back.
 */
import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";

export const NSID_PIPELINE_STATUS = "sh.tangled.pipeline.status";

export const WorkflowStatus = Type.Union([
  Type.Literal("pending"),
  Type.Literal("running"),
  Type.Literal("failed"),
  Type.Literal("timeout"),
  Type.Literal("cancelled"),
  Type.Literal("success"),
]);
export type WorkflowStatus = Static<typeof WorkflowStatus>;

const RANK: Record<WorkflowStatus, number> = {
  pending: 0,
  running: 1,
  failed: 2,
  timeout: 2,
  cancelled: 2,
  success: 2,
};

/** Narrows a stored or received string; throws on anything that is not a Tangled status. */
export function parseStatus(value: string): WorkflowStatus {
  if (Value.Check(WorkflowStatus, value)) return value;
  throw new Error(`not a workflow status: ${JSON.stringify(value)}`);
}

export function isTerminal(status: WorkflowStatus): boolean {
  return RANK[status] === 2;
}

/** True when `next` may follow `current`: strictly later, and nothing follows a terminal state. */
export function movesForward(current: WorkflowStatus | undefined, next: WorkflowStatus): boolean {
  if (current === undefined) return true;
  return RANK[next] > RANK[current];
}

/**
 * The record's exact shape; `$type` is the real NSID (docs/design.md, *Records carry their real
 * type*), keys in sorted order.
 */
export const PipelineStatusRecord = Type.Object({
  $type: Type.Literal(NSID_PIPELINE_STATUS),
  createdAt: Type.String(),
  error: Type.Optional(Type.String()),
  exitCode: Type.Optional(Type.Integer()),
  pipeline: Type.String(),
  status: WorkflowStatus,
  workflow: Type.String(),
});
export type PipelineStatusRecord = Static<typeof PipelineStatusRecord>;

/** RFC 3339 at whole seconds, UTC ("2026-11-26T20:00:00Z"), as the Go spindle writes it. */
export function formatCreatedAt(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}
