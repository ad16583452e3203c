/**
 * POST /webhooks/github — `workflow_run` and `workflow_job` deliveries from the runner
 * repository's webhook.
 *
 * One straight line, one status per step (docs/design.md, *Webhook contract*); the route
 * already answered 503 when GitHub is not configured and 413 above 1 MiB:
 *   signature (X-Hub-Signature-256 over the raw bytes) → 401, nothing read or written;
 *   body not UTF-8 JSON → 400; `ping` → 200; other events → 200 ignored;
 *   payload not the event's shape, or no X-GitHub-Delivery → 400;
 *   a delivery id already recorded → 200 "duplicate", nothing applied (GitHub reuses the id on
 *   a redelivery, so the id, not the body, says what was applied);
 *   a run tack did not start → 200 ignored;
 *   otherwise the status change, the run row and the delivery id commit together → 200.
 * Only our own failures are 5xx, so GitHub's delivery log shows a failure exactly when one
 * needs redelivering. GitHub never redelivers on its own; the reconciler covers lost ones.
 */
import { Value } from "@sinclair/typebox/value";
import { type Db, readTogether } from "../../db/client.ts";
import type { Logger } from "../../log.ts";
import { correlationIdIn } from "../correlation-id.ts";
import type { WebhookDeliveries } from "../deliveries.ts";
import type { WebhookRequest, WebhookResponse } from "../provider.ts";
import { type GithubRun, type GithubRuns, runLogFields } from "./builds.ts";
import { PROVIDER } from "./config.ts";
import { WorkflowJobEvent, WorkflowRunEvent } from "./schemas.ts";
import type { RunTracker } from "./track.ts";
import { verifySignature } from "./verify.ts";

interface WebhookDeps {
  db: Db;
  secret: string;
  runs: GithubRuns;
  tracker: RunTracker;
  deliveries: WebhookDeliveries;
  log: Logger;
}

export function createWebhookHandler(
  deps: WebhookDeps,
): (request: WebhookRequest) => Promise<WebhookResponse> {
  return async ({ headers, body }) => {
    const event = headers.get("x-github-event") ?? "";
    const deliveryId = headers.get("x-github-delivery");
    const log = deps.log.child({ event, delivery_id: deliveryId });
    if (!verifySignature(deps.secret, body, headers.get("x-hub-signature-256"))) {
      log.warn(
        "github webhook: verify failed (is TACK_GITHUB_WEBHOOK_SECRET the webhook's secret?)",
      );
      return reply(401, "invalid signature", "unauthorized");
    }
    let payload: unknown;
    try {
      payload = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
    } catch {
      log.warn("github webhook: body is not JSON");
      return reply(400, "malformed JSON", "bad_request");
    }
    if (event === "ping") return reply(200, "pong", "ignored");
    if (event !== "workflow_run" && event !== "workflow_job") {
      return reply(200, `ignored: tack does not use ${event || "unnamed"} events`, "ignored");
    }
    const shaped = shape(event, payload);
    if ("problem" in shaped) {
      log.warn("github webhook: payload does not match its event", { reason: shaped.problem });
      return reply(400, `not a ${event} payload (${shaped.problem})`, "bad_request");
    }
    if (!deliveryId) return reply(400, "missing X-GitHub-Delivery", "bad_request");
    const runId = "run" in shaped ? shaped.run.workflow_run.id : shaped.job.workflow_job.run_id;
    // The de-dup key and the run's row in one read transaction (see readTogether).
    const known = readTogether(deps.db, () =>
      deps.deliveries.seen(PROVIDER, deliveryId) ? undefined : { run: deps.runs.byRunId(runId) },
    );
    if (!known) return reply(200, "duplicate delivery", "duplicate");

    try {
      return "run" in shaped
        ? await onRun(deps, shaped.run, known.run, deliveryId, log)
        : await onJob(deps, shaped.job, known.run, deliveryId, log);
    } catch (error) {
      log.error("github webhook: apply failed", { err: error });
      return reply(500, "internal error", "error");
    }
  };
}

function shape(
  event: "workflow_run" | "workflow_job",
  payload: unknown,
): { run: WorkflowRunEvent } | { job: WorkflowJobEvent } | { problem: string } {
  if (event === "workflow_run" && Value.Check(WorkflowRunEvent, payload)) return { run: payload };
  if (event === "workflow_job" && Value.Check(WorkflowJobEvent, payload)) return { job: payload };
  const schema = event === "workflow_run" ? WorkflowRunEvent : WorkflowJobEvent;
  const error = Value.Errors(schema, payload).First();
  return { problem: error ? `${error.path || "/"}: ${error.message}` : "invalid" };
}

async function onRun(
  deps: WebhookDeps,
  payload: WorkflowRunEvent,
  known: GithubRun | undefined,
  deliveryId: string,
  log: Logger,
): Promise<WebhookResponse> {
  const observed = payload.workflow_run;
  const run =
    known ?? (await runOf(deps.runs, observed.id, payload.repository.full_name, observed));
  if (!run) return reply(200, "ignored: not a run tack started", "ignored");
  const first = await deps.tracker.applyRun(
    run,
    { status: observed.status, conclusion: observed.conclusion, htmlUrl: observed.html_url },
    deliveryId,
  );
  log.debug("github webhook: applied", {
    ...runLogFields(run),
    status: observed.status,
    conclusion: observed.conclusion,
    duplicate: !first,
  });
  return first ? reply(200, "ok", "accepted") : reply(200, "duplicate delivery", "duplicate");
}

async function onJob(
  deps: WebhookDeps,
  payload: WorkflowJobEvent,
  run: GithubRun | undefined,
  deliveryId: string,
  log: Logger,
): Promise<WebhookResponse> {
  const job = payload.workflow_job;
  // Job payloads carry no run title, so only a run whose id is known can be matched.
  if (!run) return reply(200, "ignored: not a run tack started", "ignored");
  const first = await deps.tracker.applyJob(
    run,
    { status: job.status, stepCount: job.steps?.length ?? 0 },
    deliveryId,
  );
  log.debug("github webhook: applied", {
    ...runLogFields(run),
    job_id: job.id,
    status: job.status,
    duplicate: !first,
  });
  return first ? reply(200, "ok", "accepted") : reply(200, "duplicate delivery", "duplicate");
}

/**
 * The run row a workflow_run event is about when its run id is not known yet (the event beat
 * the dispatch answer or the title search): by the correlation id in its title.
 */
async function runOf(
  runs: GithubRuns,
  runId: number,
  repository: string,
  observed: { display_title?: string; html_url: string },
): Promise<GithubRun | undefined> {
  const correlationId = correlationIdIn(observed.display_title);
  if (!correlationId) return undefined;
  const row = runs.byCorrelationId(correlationId);
  if (!row || row.repo.toLowerCase() !== repository.toLowerCase()) return undefined;
  if (!(await runs.link(correlationId, runId, observed.html_url))) return undefined;
  return runs.byCorrelationId(correlationId);
}

function reply(status: number, text: string, result: WebhookResponse["result"]): WebhookResponse {
  return { status, body: `${text}\n`, result };
}
