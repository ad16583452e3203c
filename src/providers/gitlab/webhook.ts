/**
 * POST /webhooks/gitlab — `Pipeline Hook` and `Job Hook` deliveries from the runner project's
 * webhook.
 *
 * One straight line, one status per step (docs/design.md, *Webhook contract*); the route
 * already answered 503 when GitLab is not configured and 413 above its body limit:
 *   X-Gitlab-Token is not the webhook secret → 401, nothing read or written;
 *   body not UTF-8 JSON → 400; other events (push, merge request, …) → 200 ignored;
 *   a pipeline or job event that is not its documented shape → 400;
 *   a delivery already applied → 200 "duplicate", nothing applied. The key is GitLab's
 *   `Idempotency-Key` (the same on every retry and resend of one event), else its
 *   `X-Gitlab-Event-UUID`, else (older GitLab) a digest of the body, which differs for every
 *   status change;
 *   a pipeline tack did not create → 200 ignored;
 *   otherwise the status change, the pipeline row and the delivery key commit together → 200.
 * Only our own failures are 5xx: GitLab disables a webhook after repeated failures, so nothing
 * a sender can provoke may fail it. The reconciler covers deliveries that never come.
 *
 * Which event it is comes from the body's `object_kind` (what the token-holder sent), not the
 * `X-Gitlab-Event` header, which a group or system hook names differently.
 *
 * A finished pipeline is read back from the API before it is published (when that answers
 * quickly): the API's jobs tell a timeout from another failure, and a webhook is only as
 * trustworthy as the secret's holders. An API answer behind the webhook (a replica a moment
 * late) does not pull the status back.
 */
import { Value } from "@sinclair/typebox/value";
import { type Db, readTogether } from "../../db/client.ts";
import type { Logger } from "../../log.ts";
import { correlationIdIn } from "../correlation-id.ts";
import type { WebhookDeliveries } from "../deliveries.ts";
import type { WebhookRequest, WebhookResponse } from "../provider.ts";
import { type GitlabPipeline, type GitlabPipelines, pipelineLogFields } from "./builds.ts";
import type { GitlabClient } from "./client.ts";
import { PROVIDER } from "./config.ts";
import { JobHookEvent, PipelineHookEvent } from "./schemas.ts";
import { isFinishedState, type PipelineObservation, stateRank } from "./states.ts";
import type { PipelineTracker } from "./track.ts";
import { verifyToken } from "./verify.ts";

export interface WebhookDeps {
  db: Db;
  secret: string;
  pipelines: GitlabPipelines;
  tracker: PipelineTracker;
  deliveries: WebhookDeliveries;
  client: GitlabClient;
  confirmTimeoutMs: number;
  log: Logger;
}

export function createWebhookHandler(
  deps: WebhookDeps,
): (request: WebhookRequest) => Promise<WebhookResponse> {
  return async ({ headers, body }) => {
    const header = headers.get("x-gitlab-event") ?? "";
    const log = deps.log.child({ event: header });
    const refused = verifyToken(deps.secret, headers.get("x-gitlab-token"));
    if (refused) {
      log.warn(
        "gitlab webhook: verify failed (is TACK_GITLAB_WEBHOOK_SECRET the webhook's secret token?)",
        {
          reason: refused,
        },
      );
      return reply(401, "unauthorized", "unauthorized");
    }
    let payload: unknown;
    try {
      payload = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
    } catch {
      log.warn("gitlab webhook: body is not JSON");
      return reply(400, "malformed JSON", "bad_request");
    }
    const kind = kindOf(payload);
    if (kind !== "pipeline" && kind !== "build") {
      return reply(200, `ignored: tack does not use ${kind || "unnamed"} events`, "ignored");
    }
    const shaped = shape(kind, payload);
    if ("problem" in shaped) {
      log.warn("gitlab webhook: payload does not match its event", { reason: shaped.problem });
      return reply(400, `not a ${kind} event (${shaped.problem})`, "bad_request");
    }
    const key = deliveryKey(headers, body);
    const pipelineId =
      "pipeline" in shaped ? shaped.pipeline.object_attributes.id : shaped.job.pipeline_id;
    // The de-dup key and the pipeline's row in one read transaction (see readTogether).
    const known = readTogether(deps.db, () =>
      deps.deliveries.seen(PROVIDER, key)
        ? undefined
        : { row: deps.pipelines.byPipelineId(pipelineId) },
    );
    if (!known) return reply(200, "duplicate delivery", "duplicate");

    try {
      return "pipeline" in shaped
        ? await onPipeline(deps, shaped.pipeline, known.row, key, log)
        : await onJob(deps, shaped.job, known.row, key, log);
    } catch (error) {
      log.error("gitlab webhook: apply failed", { err: error });
      return reply(500, "internal error", "error");
    }
  };
}

/** What identifies one event across GitLab's retries and resends (see above). */
function deliveryKey(headers: Headers, body: Uint8Array): string {
  const idempotency = headers.get("idempotency-key")?.trim();
  if (idempotency) return `idempotency:${idempotency}`;
  const uuid = headers.get("x-gitlab-event-uuid")?.trim();
  if (uuid) return `event:${uuid}`;
  return `body:${new Bun.CryptoHasher("sha256").update(body).digest("hex")}`;
}

function kindOf(payload: unknown): string {
  if (typeof payload !== "object" || payload === null || !("object_kind" in payload)) return "";
  return typeof payload.object_kind === "string" ? payload.object_kind : "";
}

function shape(
  kind: "pipeline" | "build",
  payload: unknown,
): { pipeline: PipelineHookEvent } | { job: JobHookEvent } | { problem: string } {
  if (kind === "pipeline" && Value.Check(PipelineHookEvent, payload)) return { pipeline: payload };
  if (kind === "build" && Value.Check(JobHookEvent, payload)) return { job: payload };
  const schema = kind === "pipeline" ? PipelineHookEvent : JobHookEvent;
  const error = Value.Errors(schema, payload).First();
  return { problem: error ? `${error.path || "/"}: ${error.message}` : "invalid" };
}

async function onPipeline(
  deps: WebhookDeps,
  event: PipelineHookEvent,
  known: GitlabPipeline | undefined,
  key: string,
  log: Logger,
): Promise<WebhookResponse> {
  const attributes = event.object_attributes;
  const row = await rowOf(deps.pipelines, known, event);
  if (!row) return reply(200, "ignored: not a pipeline tack created", "ignored");
  const webUrl = attributes.url ?? row.webUrl ?? `pipeline ${attributes.id}`;
  const sent: PipelineObservation = {
    status: attributes.status,
    webUrl,
    jobs: (event.builds ?? []).map((build) => ({
      name: build.name,
      status: build.status,
      failureReason: build.failure_reason ?? null,
    })),
  };
  const observation = isFinishedState(sent.status) ? await confirmed(deps, row, sent, log) : sent;
  const first = await deps.tracker.applyPipeline(row, observation, key);
  log.debug("gitlab webhook: applied", {
    ...pipelineLogFields(row),
    gitlab_status: observation.status,
    duplicate: !first,
  });
  return first ? reply(200, "ok", "accepted") : reply(200, "duplicate delivery", "duplicate");
}

async function onJob(
  deps: WebhookDeps,
  event: JobHookEvent,
  row: GitlabPipeline | undefined,
  key: string,
  log: Logger,
): Promise<WebhookResponse> {
  // Job payloads carry the pipeline's id only, so only a pipeline whose id is known matches.
  if (!row || (row.projectId !== null && row.projectId !== event.project_id)) {
    return reply(200, "ignored: not a pipeline tack created", "ignored");
  }
  const first = await deps.tracker.applyJob(
    row,
    { status: event.build_status, startedAt: event.build_started_at ?? null },
    key,
  );
  log.debug("gitlab webhook: applied", {
    ...pipelineLogFields(row),
    job_id: event.build_id,
    job_status: event.build_status,
    duplicate: !first,
  });
  return first ? reply(200, "ok", "accepted") : reply(200, "duplicate delivery", "duplicate");
}

/**
 * The row a pipeline event is about: the row `known` by its pipeline id (if of the same
 * project), or by the correlation id in the pipeline's name when the id is not known yet (the
 * event beat the create answer). The name only counts for an unlinked row of the same runner
 * project.
 */
async function rowOf(
  pipelines: GitlabPipelines,
  known: GitlabPipeline | undefined,
  event: PipelineHookEvent,
): Promise<GitlabPipeline | undefined> {
  const attributes = event.object_attributes;
  if (known)
    return known.projectId === null || known.projectId === event.project.id ? known : undefined;
  const correlationId = correlationIdIn(attributes.name);
  if (!correlationId) return undefined;
  const row = pipelines.byCorrelationId(correlationId);
  if (!row || row.pipelineId !== null || !sameProject(row.project, event.project)) return undefined;
  const linked = await pipelines.link(correlationId, {
    id: attributes.id,
    projectId: event.project.id,
    webUrl: attributes.url ?? null,
  });
  return linked ? pipelines.byCorrelationId(correlationId) : undefined;
}

function sameProject(named: string, project: { id: number; path_with_namespace: string }): boolean {
  return (
    named === String(project.id) ||
    named.toLowerCase() === project.path_with_namespace.toLowerCase()
  );
}

/** A finished pipeline as the API shows it, when it answers in time and is not behind (above). */
async function confirmed(
  deps: WebhookDeps,
  row: GitlabPipeline,
  sent: PipelineObservation,
  log: Logger,
): Promise<PipelineObservation> {
  const pipelineId = row.pipelineId;
  if (pipelineId === null) return sent;
  const quick = { retry: false, timeoutMs: deps.confirmTimeoutMs };
  try {
    const read = await deps.client.getPipeline(row.project, pipelineId, quick);
    if (stateRank(read.status) < stateRank(sent.status)) return sent;
    const jobs =
      read.status === "failed" ? await deps.client.listJobs(row.project, pipelineId, quick) : [];
    return {
      status: read.status,
      webUrl: read.web_url,
      jobs: jobs.map((job) => ({
        name: job.name,
        status: job.status,
        failureReason: job.failure_reason ?? null,
      })),
    };
  } catch (error) {
    log.warn("gitlab webhook: could not confirm from the API, using the payload", {
      err: error,
      ...pipelineLogFields(row),
    });
    return sent;
  }
}

function reply(status: number, text: string, result: WebhookResponse["result"]): WebhookResponse {
  return { status, body: `${text}\n`, result };
}
