/**
 * GET /healthz — is this spindle serving? JSON for humans and load balancers:
 * 200 while the database takes writes, 503 when it does not (or while shutting down).
 * GET /metrics — Prometheus text exposition of the service's counters and gauges.
 */
import { Elysia } from "elysia";
import type { Metrics } from "../metrics.ts";

export interface HealthReport {
  status: "ok" | "unavailable" | "stopping";
  database: { writable: boolean; error?: string };
  jetstream: { connected: boolean; lag_seconds: number | null };
  knots: { followed: number; connected: number };
  providers: string[];
}

export function healthRoutes(deps: { health: () => Promise<HealthReport>; metrics: Metrics }) {
  return new Elysia({ name: "health" })
    .get("/healthz", async () => {
      const report = await deps.health();
      return new Response(`${JSON.stringify(report)}\n`, {
        status: report.status === "ok" ? 200 : 503,
        headers: { "content-type": "application/json", "cache-control": "no-store" },
      });
    })
    .get("/metrics", async () => {
      return new Response(await deps.metrics.registry.metrics(), {
        headers: { "content-type": deps.metrics.registry.contentType },
      });
    });
}
