/**
 * POST /webhooks/github — `workflow_run` and `workflow_job` deliveries from the runner
 * repository's webhook.
 *
 * One straight line, one status per step (docs/design.md, *Webhook contract*); the route
 * already answered 503 when GitHub is not configured and 413 above 1 MiB:
 *   signature (X-Hub-Signature-256 over the raw bytes) → 401, nothing read or written;
 *   body not UTF-8 JSON → 400; `ping` → 200; other events → 200 ignored;
 *   payload not the event's shape, or no X-GitHub-Delivery → 400;
 *   a run tack did not start → 200 ignored;
 *   otherwise the transition commits, then the run row and the delivery id together → 200
 *   (or 200 "duplicate" when that delivery id was already recorded: re-applying it changed
 *   nothing, transitions being forward-only).
 * Only our own failures are 5xx, so GitHub's delivery log shows a failure exactly when one
 * needs redelivering. GitHub never redelivers on its own; the reconciler covers lost ones.
 */
import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { Logger } from "../../log.ts";
import type { WebhookRequest, WebhookResponse } from "../provider.ts";
import { correlationIdIn } from "./dispatch.ts";
import type { RunProgress } from "./progress.ts";
import { type GithubRun, type GithubRuns, runLogFields } from "./runs.ts";
import { verifySignature } from "./verify.ts";

const Repository = Type.Object({ full_name: Type.String() });

export const WorkflowRunEvent = Type.Object({
  action: Type.String(),
  workflow_run: Type.Object({
    id: Type.Integer({ minimum: 1 }),
    display_title: Type.Optional(Type.String()),
    status: Type.String(),
    conclusion: Type.Union([Type.String(), Type.Null()]),
    html_url: Type.String(),
    run_attempt: Type.Optional(Type.Integer()),
  }),
  repository: Repository,
});
export type WorkflowRunEvent = Static<typeof WorkflowRunEvent>;

export const WorkflowJobEvent = Type.Object({
  action: Type.String(),
  workflow_job: Type.Object({
    id: Type.Integer({ minimum: 1 }),
    run_id: Type.Integer({ minimum: 1 }),
    name: Type.String(),
    status: Type.String(),
    conclusion: Type.Union([Type.String(), Type.Null()]),
    steps: Type.Optional(Type.Array(Type.Object({ name: Type.String() }))),
  }),
  repository: Repository,
});
export type WorkflowJobEvent = Static<typeof WorkflowJobEvent>;

export function createWebhookHandler(deps: {
  secret: string;
  runs: GithubRuns;
  progress: RunProgress;
  log: Logger;
}): (request: WebhookRequest) => Promise<WebhookResponse> {
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

    try {
      return "run" in shaped
        ? await onRun(deps, shaped.run, deliveryId, log)
        : await onJob(deps, shaped.job, deliveryId, log);
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
  deps: { runs: GithubRuns; progress: RunProgress },
  payload: WorkflowRunEvent,
  deliveryId: string,
  log: Logger,
): Promise<WebhookResponse> {
  const observed = payload.workflow_run;
  const run = await runOf(deps.runs, observed.id, payload.repository.full_name, observed);
  if (!run) return reply(200, "ignored: not a run tack started", "ignored");
  const first = await deps.progress.applyRun(
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
  deps: { runs: GithubRuns; progress: RunProgress },
  payload: WorkflowJobEvent,
  deliveryId: string,
  log: Logger,
): Promise<WebhookResponse> {
  const job = payload.workflow_job;
  // Job payloads carry no run title, so only a run whose id is known can be matched.
  const run = deps.runs.byRunId(job.run_id);
  if (!run) return reply(200, "ignored: not a run tack started", "ignored");
  const first = await deps.progress.applyJob(
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
 * The run row a workflow_run event is about: by run id, or by the correlation id in its title
 * when the run id is not known yet (the event beat the dispatch answer or the title search).
 */
async function runOf(
  runs: GithubRuns,
  runId: number,
  repository: string,
  observed: { display_title?: string; html_url: string },
): Promise<GithubRun | undefined> {
  const known = runs.byRunId(runId);
  if (known) return known;
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
