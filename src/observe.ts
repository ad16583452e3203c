/**
 * What an operator watches: the /healthz report and the gauges read at /metrics scrape time.
 * Both only look at components; neither changes anything but the health probe row.
 */
import { healthProbe } from "./db/schema.ts";
import type { Writer } from "./db/writer.ts";
import type { HealthReport } from "./http/health.ts";
import type { OpenSockets } from "./http/sockets.ts";
import type { Metrics } from "./metrics.ts";
import type { Workflows } from "./pipeline/workflows.ts";
import type { ProviderRegistry } from "./providers/registry.ts";
import type { JetstreamConsumer } from "./tangled/jetstream.ts";
import type { KnotStreams } from "./tangled/knots.ts";

export interface ObservedService {
  writer: Writer;
  jetstream: JetstreamConsumer;
  knots: KnotStreams;
  providers: ProviderRegistry;
  workflows: Workflows;
  sockets: OpenSockets;
  stopping: () => boolean;
}

/** The database counts as writable when a real commit (with its fsync) succeeds. */
export function createHealthCheck(service: ObservedService): () => Promise<HealthReport> {
  return async () => {
    let database: HealthReport["database"] = { writable: true };
    try {
      const checkedAt = Date.now();
      await service.writer.write((tx) =>
        tx
          .insert(healthProbe)
          .values({ id: 1, checkedAt })
          .onConflictDoUpdate({ target: healthProbe.id, set: { checkedAt } })
          .run(),
      );
    } catch (error) {
      database = { writable: false, error: error instanceof Error ? error.message : String(error) };
    }
    const knots = service.knots.status();
    const status = service.stopping() ? "stopping" : database.writable ? "ok" : "unavailable";
    return {
      status,
      database,
      jetstream: { connected: service.jetstream.connected, lag_seconds: jetstreamLag(service) },
      knots: { followed: knots.length, connected: knots.filter((k) => k.connected).length },
      providers: service.providers.all().map((provider) => provider.name),
    };
  };
}

export function registerServiceGauges(metrics: Metrics, service: ObservedService): void {
  metrics.gauge("tack_events_subscribers", "Open /events WebSocket subscribers.", [], (set) =>
    set({}, service.sockets.count("events")),
  );
  metrics.gauge(
    "tack_jetstream_connected",
    "1 while the Jetstream connection is open.",
    [],
    (set) => set({}, service.jetstream.connected ? 1 : 0),
  );
  metrics.gauge(
    "tack_jetstream_lag_seconds",
    "Seconds between now and the newest Jetstream event applied (absent before the first).",
    [],
    (set) => {
      const lag = jetstreamLag(service);
      if (lag !== null) set({}, lag);
    },
  );
  metrics.gauge("tack_knots_followed", "Knots whose /events stream tack follows.", [], (set) =>
    set({}, service.knots.status().length),
  );
  metrics.gauge("tack_knots_connected", "Followed knots with an open connection.", [], (set) =>
    set({}, service.knots.status().filter((knot) => knot.connected).length),
  );
  metrics.gauge("tack_workflows", "Workflows by their latest status.", ["status"], (set) => {
    for (const [status, count] of Object.entries(service.workflows.countByStatus())) {
      set({ status }, count);
    }
  });
}

function jetstreamLag(service: ObservedService): number | null {
  const last = service.jetstream.lastEventUs;
  return last > 0 ? Math.max(0, Date.now() / 1000 - last / 1_000_000) : null;
}
