/**
 * POST /webhooks/sourcehut — completion nudges. A manifest may end with
 *
 *   triggers:
 *     - action: webhook
 *       condition: always
 *       url: https://<TACK_HOSTNAME>/webhooks/sourcehut
 *
 * and builds.sr.ht then POSTs the finished job (as JSON) to tack. It is unsigned, so it is a
 * hint only (see verify.ts): tack polls the job at once instead of at its next scheduled poll,
 * and the poll moves the workflow. Nothing in the body is ever applied.
 *
 * One straight line, one status per step (docs/design.md, *Webhook contract*); the route
 * already answered 503 when sourcehut is not configured and 413 above 1 MiB:
 *   body not UTF-8 JSON, or not a job (`id`, `status`) → 400;
 *   a job tack did not submit → 200 ignored (a trigger shared with other jobs is harmless);
 *   a job of tack's under another note → 401;
 *   a job already finished, or nudged within `nudgeGapMs` → 200, nothing more;
 *   otherwise → 200, and the job is polled now.
 */
import { Value } from "@sinclair/typebox/value";
import type { Clock } from "../../clock.ts";
import type { Logger } from "../../log.ts";
import type { WebhookRequest, WebhookResponse } from "../provider.ts";
import type { SourcehutJob, SourcehutJobs } from "./builds.ts";
import type { Poller } from "./reconcile.ts";
import { CompletionNudge } from "./schemas.ts";
import { stateRank } from "./states.ts";
import { verifyNudge } from "./verify.ts";

export function createNudgeHandler(deps: {
  jobs: SourcehutJobs;
  poller: Poller;
  instances: string[];
  clock: Clock;
  log: Logger;
  nudgeGapMs: number;
}): (request: WebhookRequest) => Promise<WebhookResponse> {
  const lastNudge = new Map<string, number>();
  return async ({ body }) => {
    let payload: unknown;
    try {
      payload = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
    } catch {
      deps.log.warn("sourcehut webhook: body is not JSON");
      return reply(400, "malformed JSON", "bad_request");
    }
    if (!Value.Check(CompletionNudge, payload)) {
      deps.log.warn("sourcehut webhook: body is not a builds.sr.ht job");
      return reply(400, "not a builds.sr.ht job (id, status)", "bad_request");
    }
    const candidates = deps.instances
      .map((instance) => deps.jobs.byJobId(instance, payload.id))
      .filter((job): job is SourcehutJob => job !== undefined);
    if (candidates.length === 0) return reply(200, "ignored: not a job tack submitted", "ignored");
    const verdict = verifyNudge(payload, candidates);
    if (!verdict.ok) {
      deps.log.warn("sourcehut webhook: nudge refused", {
        job_id: payload.id,
        reason: verdict.reason,
      });
      return reply(401, "unauthorized", "unauthorized");
    }
    const { job } = verdict;
    if (stateRank(job.state) >= 2) return reply(200, "already final", "duplicate");
    const now = deps.clock.now();
    const last = lastNudge.get(job.correlationId);
    if (last !== undefined && now - last < deps.nudgeGapMs) {
      return reply(200, "already polling", "duplicate");
    }
    lastNudge.set(job.correlationId, now);
    if (lastNudge.size > 10_000) lastNudge.clear();
    await deps.poller.pollNow(job);
    deps.log.debug("sourcehut webhook: nudged", {
      job_id: job.jobId,
      correlation_id: job.correlationId,
    });
    return reply(200, "polling", "accepted");
  };
}

function reply(status: number, body: string, result: WebhookResponse["result"]): WebhookResponse {
  return { status, body, result };
}
