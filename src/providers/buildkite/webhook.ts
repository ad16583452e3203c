/**
 * POST /webhooks/buildkite. The contract, in order:
 *
 *   1. verify (token or signature, verify.ts)          → 401, nothing read or written
 *   2. parse the JSON body                             → 400 when it is not JSON
 *   3. ping, job.*, agent.* events                     → 200 "ignored"
 *      a build.* body that does not fit the schema     → 400
 *      a build without tack:* meta_data, or whose
 *      workflow this spindle does not know             → 200 "ignored"
 *   4. a delivery already accepted (exact replay)      → 200 "duplicate", nothing applied
 *   5. a terminal state is confirmed by reading the build from the API (when that works;
 *      the verified payload is used otherwise), the status transition commits, then the
 *      build's row and the delivery key commit together  → 200 "ok"
 *
 * Only our own failures are 5xx, so Buildkite retries exactly when something was not applied.
 * A webhook that beats spawn's reference to the database is matched through its meta_data,
 * and the reference is stored from it (the Go tack's PR #9 race).
 */

import { Value } from "@sinclair/typebox/value";
import type { Clock } from "../../clock.ts";
import type { Logger } from "../../log.ts";
import type { WebhookResult } from "../../metrics.ts";
import { isTerminal } from "../../pipeline/status.ts";
import type { Workflows } from "../../pipeline/workflows.ts";
import type { WebhookDeliveries } from "../deliveries.ts";
import type { WebhookRequest, WebhookResponse } from "../provider.ts";
import type { BuildkiteClient } from "./client.ts";
import { type BuildkiteBuild, BuildkiteBuildEvent } from "./schemas.ts";
import { observe } from "./states.ts";
import type { BuildTracker, TrackedBuild } from "./track.ts";
import { verifyDelivery } from "./verify.ts";

export const PROVIDER = "buildkite";

/** How long a webhook waits for the confirming API read before trusting its own payload. */
const CONFIRM_TIMEOUT_MS = 5_000;

export interface WebhookDeps {
  secret: { webhookSecret: string; webhookMode: "token" | "signature" };
  workflows: Workflows;
  deliveries: WebhookDeliveries;
  tracker: BuildTracker;
  client: BuildkiteClient;
  clock: Clock;
  log: Logger;
}

export async function handleWebhook(
  deps: WebhookDeps,
  request: WebhookRequest,
): Promise<WebhookResponse> {
  const log = deps.log.child({ component: "webhook" });
  const verdict = verifyDelivery(deps.secret, request.headers, request.body, deps.clock.now());
  if (!verdict.ok) {
    log.warn("buildkite webhook: verify failed", { reason: verdict.reason });
    return reply(401, "unauthorized", "unauthorized");
  }
  const body = parseJson(request.body);
  if (body === undefined) return reply(400, "bad request: body is not JSON", "bad_request");
  const event = request.headers.get("x-buildkite-event") ?? eventOf(body);
  if (!event.startsWith("build.")) {
    log.debug("buildkite webhook: event ignored", { event });
    return reply(200, event === "ping" ? "pong" : "ignored", "ignored");
  }
  if (!Value.Check(BuildkiteBuildEvent, body)) {
    const error = Value.Errors(BuildkiteBuildEvent, body).First();
    const where = error ? `${error.path || "/"}: ${error.message}` : "invalid";
    log.warn("buildkite webhook: malformed build event", { event, reason: where });
    return reply(400, `bad request: ${where}`, "bad_request");
  }
  const tracked = deps.tracker.locate(body.build, {
    org: body.organization?.slug,
    pipeline: body.pipeline?.slug,
  });
  if (!tracked) return reply(200, "ignored: not a tack build", "ignored");
  const buildLog = log.child({
    knot: tracked.id.knot,
    pipeline_rkey: tracked.id.pipelineRkey,
    workflow: tracked.id.name,
    build_uuid: body.build.id,
    event,
  });
  const workflow = deps.workflows.get(tracked.id);
  if (!workflow || workflow.provider !== PROVIDER) {
    buildLog.info("buildkite webhook: build of a workflow this spindle does not know, ignored");
    return reply(200, "ignored: unknown workflow", "ignored");
  }
  if (deps.deliveries.seen(PROVIDER, verdict.deliveryKey))
    return reply(200, "duplicate", "duplicate");

  try {
    // A workflow already finished needs no confirmation: nothing can change it any more.
    const build = isTerminal(workflow.status)
      ? body.build
      : await confirmed(deps, tracked, body.build, buildLog);
    const first = await deps.tracker.apply(tracked, build, (tx) =>
      deps.deliveries.firstSeen(tx, PROVIDER, verdict.deliveryKey),
    );
    if (first === false) return reply(200, "duplicate", "duplicate");
    buildLog.debug("buildkite webhook: applied", { state: build.state });
    return reply(200, "ok", "accepted");
  } catch (error) {
    buildLog.error("buildkite webhook: apply failed", { err: error });
    return reply(500, "internal error", "error");
  }
}

/**
 * Webhook bodies may be late, early or partial (no jobs), so a terminal state is read back
 * from the API before it is published: the API's build is the truth, and its jobs show a
 * timeout. A token without read_builds, or an API that does not answer quickly, leaves the
 * verified payload as the best knowledge.
 */
async function confirmed(
  deps: WebhookDeps,
  tracked: TrackedBuild,
  build: BuildkiteBuild,
  log: Logger,
): Promise<BuildkiteBuild> {
  const observation = observe(build);
  if (!observation || !isTerminal(observation.status)) return build;
  try {
    const read = await deps.client.getBuild(tracked.location, {
      retry: "none",
      signal: AbortSignal.timeout(CONFIRM_TIMEOUT_MS),
    });
    if (read.id === build.id) return read;
    log.warn("buildkite webhook: API returned another build, using the payload", {
      api_build_uuid: read.id,
    });
  } catch (error) {
    log.warn("buildkite webhook: could not confirm from the API, using the payload", {
      err: error,
    });
  }
  return build;
}

function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    return undefined;
  }
}

function eventOf(body: unknown): string {
  if (typeof body === "object" && body !== null && "event" in body) {
    return typeof body.event === "string" ? body.event : "";
  }
  return "";
}

function reply(status: number, text: string, result: WebhookResult): WebhookResponse {
  return { status, body: `${text}\n`, result };
}
