/**
 * createApp(deps): the whole HTTP surface as one Elysia app. It never listens: main.ts does,
 * and tests do on 127.0.0.1:0.
 *
 * Error contract: an unknown path is 404 with Go's plain-text body; a request that fails route
 * validation is 400 naming the field; anything unexpected is logged and answered with an
 * opaque 500 (no internals on the wire).
 */
import { Elysia } from "elysia";
import type { EventStore } from "./eventlog/store.ts";
import { type WebhookBodyLimits, webhookBodyLimits } from "./http/body-limits.ts";
import { type EventsOptions, eventsRoutes } from "./http/events.ts";
import { type HealthReport, healthRoutes } from "./http/health.ts";
import { logsRoutes } from "./http/logs.ts";
import { ownerRoutes } from "./http/owner.ts";
import { rootRoutes } from "./http/root.ts";
import type { OpenSockets } from "./http/sockets.ts";
import { KNOWN_PROVIDERS, webhooksRoutes } from "./http/webhooks.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { Workflows } from "./pipeline/workflows.ts";
import type { ProviderRegistry } from "./providers/registry.ts";

/** Request bodies above this are refused with 413 before any handler runs. */
export const MAX_BODY_BYTES = 1 << 20;
/** A live /events subscriber whose unsent frames exceed this is disconnected (resumes by cursor). */
export const WS_BACKPRESSURE_LIMIT = 4 << 20;
/** Clients have nothing to tell us over /events or /logs; a larger frame closes them (1009). */
export const WS_MAX_INCOMING_FRAME = 64 << 10;

export interface AppDeps {
  ownerDid: string;
  store: EventStore;
  lastBroadcastAt: () => number;
  workflows: Workflows;
  providers: ProviderRegistry;
  sockets: OpenSockets;
  log: Logger;
  metrics: Metrics;
  health: () => Promise<HealthReport>;
  events?: Partial<EventsOptions>;
  webhookBodies?: Partial<WebhookBodyLimits>;
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
    .onError(({ code, error }) => {
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
    .use(
      webhookBodyLimits({
        metrics: deps.metrics,
        knownProviders: KNOWN_PROVIDERS,
        ...deps.webhookBodies,
      }),
    )
    .use(rootRoutes())
    .use(healthRoutes(deps))
    .use(ownerRoutes(deps.ownerDid))
    .use(
      eventsRoutes({
        store: deps.store,
        lastBroadcastAt: deps.lastBroadcastAt,
        sockets: deps.sockets,
        log,
        options: deps.events,
      }),
    )
    .use(logsRoutes({ ...deps, log }))
    .use(webhooksRoutes(deps));
}

export type App = ReturnType<typeof createApp>;

function plain(status: number, body: string): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}
