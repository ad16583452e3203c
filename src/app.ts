/**
 * createApp(deps): the whole HTTP surface as one Elysia app. It never listens: main.ts does,
 * and tests do on 127.0.0.1:0.
 *
 * Error contract: an unknown path is 404 with Go's plain-text body; a request that fails route
 * validation is 400 naming the field; anything unexpected is logged and answered with an
 * opaque 500 (no internals on the wire). Under /xrpc/ every error is XRPC's JSON
 * `{"error","message"}`: an unknown method is 501 MethodNotImplemented, a known one called with
 * the wrong HTTP method 400 InvalidRequest.
 */
import { Elysia } from "elysia";
import type { IdentityResolver } from "./atproto/identity.ts";
import type { ServiceAuth } from "./atproto/service-auth.ts";
import type { Clock } from "./clock.ts";
import type { Db } from "./db/client.ts";
import type { EventStore } from "./eventlog/store.ts";
import { WebhookBodies, type WebhookBodyLimits } from "./http/body-limits.ts";
import { type EventsOptions, eventsRoutes } from "./http/events.ts";
import { type HealthReport, healthRoutes } from "./http/health.ts";
import type { LogStreamSlots } from "./http/log-stream.ts";
import { logsRoutes } from "./http/logs.ts";
import { ownerRoutes } from "./http/owner.ts";
import { rootRoutes } from "./http/root.ts";
import { secretsRoutes } from "./http/secrets.ts";
import type { OpenSockets } from "./http/sockets.ts";
import { webhooksRoutes } from "./http/webhooks.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { PublicHosts } from "./net/public-hosts.ts";
import type { PipelineCancel } from "./pipeline/cancel.ts";
import type { ManualRuns } from "./pipeline/manual-runs.ts";
import type { Pipelines } from "./pipeline/pipelines.ts";
import type { Workflows } from "./pipeline/workflows.ts";
import type { ProviderRegistry } from "./providers/registry.ts";
import type { Secrets } from "./secrets/store.ts";
import type { SecretTokens } from "./secrets/tokens.ts";
import type { Membership } from "./tangled/membership.ts";
import type { WorkflowFiles } from "./tangled/workflow-files.ts";
import { ADD_SECRET, addSecretRoute } from "./xrpc/add-secret.ts";
import { CANCEL_PIPELINE, cancelPipelineRoute } from "./xrpc/cancel-pipeline.ts";
import { describeWorkflowDefinitionRoute } from "./xrpc/describe-workflow-definition.ts";
import { XrpcError, xrpcErrorResponse } from "./xrpc/errors.ts";
import { getPipelineRoute } from "./xrpc/get-pipeline.ts";
import { LIST_SECRETS, listSecretsRoute } from "./xrpc/list-secrets.ts";
import { queryPipelinesRoute } from "./xrpc/query-pipelines.ts";
import { REMOVE_SECRET, removeSecretRoute } from "./xrpc/remove-secret.ts";
import { subscribePipelineLogsRoute } from "./xrpc/subscribe-pipeline-logs.ts";
import { TRIGGER_PIPELINE, triggerPipelineRoute } from "./xrpc/trigger-pipeline.ts";

/** Request bodies above this are refused with 413 before any handler runs. */
export const MAX_BODY_BYTES = 1 << 20;
/** A live /events subscriber whose unsent frames exceed this is disconnected (resumes by cursor). */
export const WS_BACKPRESSURE_LIMIT = 4 << 20;
/** Clients have nothing to tell us over /events or /logs; a larger frame closes them (1009). */
export const WS_MAX_INCOMING_FRAME = 64 << 10;

export interface AppDeps {
  /** For reads that belong together (readTogether); all writes go through the writer. */
  db: Db;
  ownerDid: string;
  store: EventStore;
  lastBroadcastAt: () => number;
  lastBroadcastCreated: () => bigint;
  workflows: Workflows;
  pipelines: Pipelines;
  membership: Membership;
  identities: IdentityResolver;
  publicHosts: PublicHosts;
  workflowFiles: WorkflowFiles;
  providers: ProviderRegistry;
  sockets: OpenSockets;
  logSlots: LogStreamSlots;
  auth: ServiceAuth;
  runs: ManualRuns;
  cancel: PipelineCancel;
  secrets: Secrets;
  secretTokens: SecretTokens;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  health: () => Promise<HealthReport>;
  events?: Partial<EventsOptions>;
  webhookBodies?: Partial<WebhookBodyLimits>;
  /** The operator's status page for GET / from a browser (src/http/status-page.ts). */
  statusPage?: () => Promise<string>;
}

export function createApp(deps: AppDeps) {
  const log = deps.log.child({ component: "http" });
  return new Elysia({
    serve: { maxRequestBodySize: MAX_BODY_BYTES },
    websocket: {
      backpressureLimit: WS_BACKPRESSURE_LIMIT,
      closeOnBackpressureLimit: true,
      maxPayloadLength: WS_MAX_INCOMING_FRAME,
      perMessageDeflate: false,
      idleTimeout: 120,
    },
  })
    .onError(({ code, error, request }) => {
      if (new URL(request.url).pathname.startsWith("/xrpc/")) {
        const xrpc = xrpcError(code, error, request);
        if (xrpc) return xrpcErrorResponse(xrpc);
      }
      if (code === "NOT_FOUND") return plain(404, "404 page not found\n");
      if (code === "VALIDATION") {
        // One line naming the field, not Elysia's JSON dump of the schema.
        const first = error.valueError;
        const where = first ? `${error.type}${first.path}` : error.type;
        return plain(400, `bad request: ${where}: ${first?.message ?? "invalid"}\n`);
      }
      if (code === "PARSE") return plain(400, "bad request: malformed body\n");
      log.error("http: unhandled error", { err: error });
      return plain(500, "internal error\n");
    })
    .use(rootRoutes(deps.statusPage))
    .use(healthRoutes(deps))
    .use(ownerRoutes(deps.ownerDid))
    .use(
      eventsRoutes({
        store: deps.store,
        lastBroadcastAt: deps.lastBroadcastAt,
        lastBroadcastCreated: deps.lastBroadcastCreated,
        sockets: deps.sockets,
        log,
        options: deps.events,
      }),
    )
    .use(logsRoutes({ ...deps, log }))
    .use(
      webhooksRoutes({
        ...deps,
        webhookBodies: new WebhookBodies(deps.webhookBodies, deps.metrics),
      }),
    )
    .use(queryPipelinesRoute(deps))
    .use(getPipelineRoute(deps))
    .use(describeWorkflowDefinitionRoute(deps))
    .use(subscribePipelineLogsRoute({ ...deps, log }))
    .use(triggerPipelineRoute(deps))
    .use(cancelPipelineRoute(deps))
    .use(addSecretRoute({ ...deps, log }))
    .use(listSecretsRoute(deps))
    .use(removeSecretRoute({ ...deps, log }))
    .use(secretsRoutes({ ...deps, tokens: deps.secretTokens, log }));
}

/** XRPC methods served here, so a wrong HTTP method is told apart from an unknown method. */
const XRPC_METHODS = new Set([
  "sh.tangled.owner",
  "sh.tangled.ci.queryPipelines",
  "sh.tangled.ci.getPipeline",
  "sh.tangled.ci.describeWorkflowDefinition",
  "sh.tangled.ci.subscribePipelineLogs",
  TRIGGER_PIPELINE,
  CANCEL_PIPELINE,
  ADD_SECRET,
  LIST_SECRETS,
  REMOVE_SECRET,
]);

/** The XRPC error for a failure under /xrpc/; undefined for unexpected errors (opaque 500). */
function xrpcError(code: string | number, error: unknown, request: Request): XrpcError | undefined {
  if (error instanceof XrpcError) return error;
  if (code === "NOT_FOUND") {
    const method = new URL(request.url).pathname.slice("/xrpc/".length);
    return XRPC_METHODS.has(method)
      ? new XrpcError(400, "InvalidRequest", `${request.method} is not how ${method} is called`)
      : new XrpcError(501, "MethodNotImplemented", `method not implemented: ${method}`);
  }
  if (code === "PARSE") return new XrpcError(400, "InvalidRequest", "malformed body");
  if (code === "VALIDATION") return new XrpcError(400, "InvalidRequest", "invalid parameters");
  return undefined;
}

export type App = ReturnType<typeof createApp>;

function plain(status: number, body: string): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}
