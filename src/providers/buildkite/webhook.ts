/**
 * POST /webhooks/buildkite. The contract, in order:
 *
 *   1. verify (token or signature, verify.ts)          → 401, nothing read or written
 *   2. parse the JSON body                             → 400 when it is not JSON
 *   3. ping, job.*, agent.* events                     → 200 "ignored"
 *      a build.* body that does not fit the schema     → 400
 *   4. a delivery already applied                      → 200 "duplicate", nothing applied
 *   5. a build that is not a workflow's own            → 200 "ignored" (below)
 *   6. a terminal state is confirmed by reading the build from the API (when that works; the
 *      verified payload is used otherwise); the status change, the build's row and the
 *      delivery key commit in one transaction          → 200 "ok"
 *
 * Only our own failures are 5xx, so Buildkite retries exactly when something was not applied.
 *
 * Which build may move a workflow: once the workflow has a recorded build, only that build (by
 * UUID). Before that (a webhook that beats spawn's commit), a build naming the workflow in its
 * tack:* meta_data is read back from the API in the configured organization and the workflow's
 * pipeline, and counts only if Buildkite confirms it is that very build: meta_data can be copied
 * onto any build, and the webhook may serve pipelines tack does not run.
 *
 * Buildkite sends no delivery id, so a delivery is keyed by a digest of its body, which the
 * signature covers and which names the event, the build and its state: re-encoding the
 * signature header or changing the (unsigned) event header does not make a replay new.
 */
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { Value } from "@sinclair/typebox/value";
import type { Clock } from "../../clock.ts";
import { type Db, readTogether } from "../../db/client.ts";
import type { Logger } from "../../log.ts";
import type { WebhookResult } from "../../metrics.ts";
import { isTerminal } from "../../pipeline/status.ts";
import type { StoredWorkflow, WorkflowId } from "../../pipeline/workflows.ts";
import type { WebhookDeliveries } from "../deliveries.ts";
import type { WebhookRequest, WebhookResponse, WorkflowStore } from "../provider.ts";
import type { BuildkiteBuilds, BuildRef } from "./builds.ts";
import type { BuildkiteClient, BuildLocation } from "./client.ts";
import { PROVIDER } from "./config.ts";
import { BuildkiteOptions } from "./options.ts";
import { type BuildkiteBuild, BuildkiteBuildEvent } from "./schemas.ts";
import { observe } from "./states.ts";
import {
  type BuildTracker,
  idOf,
  locationOf,
  type TrackedBuild,
  workflowFromMetaData,
} from "./track.ts";
import { verifyDelivery } from "./verify.ts";

export interface WebhookDeps {
  db: Db;
  secret: { webhookSecret: string; webhookMode: "token" | "signature" };
  defaultOrg: string;
  workflows: WorkflowStore;
  builds: BuildkiteBuilds;
  deliveries: WebhookDeliveries;
  tracker: BuildTracker;
  client: BuildkiteClient;
  clock: Clock;
  log: Logger;
  confirmTimeoutMs: number;
}

// Compiled on first use (not at start-up), then every delivery is checked against it.
let buildEvent: ReturnType<typeof TypeCompiler.Compile<typeof BuildkiteBuildEvent>> | undefined;
const utf8 = new TextDecoder("utf-8", { fatal: true });

type Owner =
  | { tracked: TrackedBuild; workflow: StoredWorkflow; build: BuildkiteBuild; confirmed: boolean }
  | { ignored: string };

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
  // The body is what the signature covers, so its own `event` wins over the header.
  const event = eventOf(body) || (request.headers.get("x-buildkite-event") ?? "");
  if (!event.startsWith("build.")) {
    log.debug("buildkite webhook: event ignored", { event });
    return reply(200, event === "ping" ? "pong" : "ignored", "ignored");
  }
  buildEvent ??= TypeCompiler.Compile(BuildkiteBuildEvent);
  if (!buildEvent.Check(body)) {
    const error = buildEvent.Errors(body).First();
    const where = error ? `${error.path || "/"}: ${error.message}` : "invalid";
    log.warn("buildkite webhook: malformed build event", { event, reason: where });
    return reply(400, `bad request: ${where}`, "bad_request");
  }
  const key = new Bun.CryptoHasher("sha256").update(request.body).digest("hex");
  const recorded = readTogether(deps.db, () =>
    deps.deliveries.seen(PROVIDER, key) ? undefined : recordedOwner(deps, body.build.id),
  );
  if (!recorded) return reply(200, "duplicate", "duplicate");

  const owner = await ownerOf(
    deps,
    body.build,
    recorded,
    log.child({ build_uuid: body.build.id, event }),
  );
  if ("ignored" in owner) return reply(200, `ignored: ${owner.ignored}`, "ignored");
  const { tracked, workflow } = owner;
  const buildLog = log.child({
    knot: tracked.id.knot,
    pipeline_rkey: tracked.id.pipelineRkey,
    workflow: tracked.id.name,
    build_uuid: body.build.id,
    event,
  });
  try {
    // A finished workflow needs no confirmation: nothing can change it any more.
    const build =
      owner.confirmed || isTerminal(workflow.status)
        ? owner.build
        : await confirmedTerminal(deps, tracked.location, owner.build, buildLog);
    let first = false;
    await deps.tracker.apply(tracked, build, (tx) => {
      first = deps.deliveries.firstSeen(tx, PROVIDER, key, deps.clock.now());
    });
    if (!first) return reply(200, "duplicate", "duplicate");
    buildLog.debug("buildkite webhook: applied", { state: build.state });
    return reply(200, "ok", "accepted");
  } catch (error) {
    buildLog.error("buildkite webhook: apply failed", { err: error });
    return reply(500, "internal error", "error");
  }
}

/** The build's row, if tack recorded the build, and that row's workflow. */
interface RecordedOwner {
  ref?: BuildRef;
  workflow?: StoredWorkflow;
}

function recordedOwner(deps: WebhookDeps, buildUuid: string): RecordedOwner {
  const ref = deps.builds.byUuid(buildUuid);
  return ref ? { ref, workflow: deps.workflows.get(idOf(ref)) } : {};
}

/** The workflow a build may move, and the build as far as tack can trust it (see above). */
async function ownerOf(
  deps: WebhookDeps,
  build: BuildkiteBuild,
  { ref, workflow: known }: RecordedOwner,
  log: Logger,
): Promise<Owner> {
  if (ref) {
    if (!known || known.provider !== PROVIDER) return { ignored: "unknown workflow" };
    return {
      tracked: { id: idOf(ref), location: locationOf(ref, build.number) },
      workflow: known,
      build,
      confirmed: false,
    };
  }
  const id = workflowFromMetaData(build.meta_data);
  if (!id) return { ignored: "not a tack build" };
  const workflow = deps.workflows.get(id);
  if (!workflow || workflow.provider !== PROVIDER) {
    log.info("buildkite webhook: build of a workflow this spindle does not know, ignored");
    return { ignored: "unknown workflow" };
  }
  const logged = log.child({ knot: id.knot, pipeline_rkey: id.pipelineRkey, workflow: id.name });
  if (deps.builds.forWorkflow(id).length > 0) {
    logged.warn("buildkite webhook: another build claims a workflow that has its own, ignored");
    return { ignored: "not this workflow's build" };
  }
  if (!Value.Check(BuildkiteOptions, workflow.options)) return { ignored: "unknown workflow" };
  const location = {
    org: workflow.options.org ?? deps.defaultOrg,
    pipeline: workflow.options.pipeline,
    number: build.number,
  };
  try {
    const read = await deps.client.getBuild(location, {
      retry: false,
      timeoutMs: deps.confirmTimeoutMs,
    });
    if (read.id === build.id && sameWorkflow(workflowFromMetaData(read.meta_data), id)) {
      return { tracked: { id, location }, workflow, build: read, confirmed: true };
    }
    logged.warn(
      "buildkite webhook: Buildkite does not confirm the build as the workflow's, ignored",
      {
        org: location.org,
        pipeline: location.pipeline,
        number: build.number,
      },
    );
  } catch (error) {
    // Spawn stores the build in a moment, and polls follow it: nothing is lost by waiting.
    logged.warn("buildkite webhook: could not confirm an unrecorded build, ignored", {
      err: error,
    });
  }
  return { ignored: "build not confirmed" };
}

/**
 * Webhook bodies may be late, early or partial (no jobs), so a terminal state is read back
 * from the API before it is published: the API's build is the truth, and its jobs show a
 * timeout. A token without read_builds, or an API that does not answer quickly, leaves the
 * verified payload as the best knowledge.
 */
async function confirmedTerminal(
  deps: WebhookDeps,
  location: BuildLocation,
  build: BuildkiteBuild,
  log: Logger,
): Promise<BuildkiteBuild> {
  const observation = observe(build);
  if (!observation || !isTerminal(observation.status)) return build;
  try {
    const read = await deps.client.getBuild(location, {
      retry: false,
      timeoutMs: deps.confirmTimeoutMs,
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

function sameWorkflow(a: WorkflowId | undefined, b: WorkflowId): boolean {
  return a?.knot === b.knot && a.pipelineRkey === b.pipelineRkey && a.name === b.name;
}

function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(utf8.decode(body));
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
