/**
 * GET /healthz — is this spindle serving? JSON for humans, monitors and load balancers:
 * 200 while the database takes writes (`ok`, or `degraded` with `reasons` when an upstream has
 * been unreachable for a while), 503 when it does not (`unavailable`) or while `stopping`.
 * GET /metrics — Prometheus text exposition of the service's counters and gauges.
 */
import { Elysia } from "elysia";
import type { Metrics } from "../metrics.ts";

export interface HealthReport {
  status: "ok" | "degraded" | "unavailable" | "stopping";
  /** One line per problem, worded for the operator; empty when `ok`. */
  reasons: string[];
  version: string;
  commit: string;
  schema_version: number;
  database: { writable: boolean; locked?: boolean; error?: string };
  jetstream: {
    connected: boolean;
    /** Seconds since the connection was lost; null while connected. */
    disconnected_seconds: number | null;
    last_error?: string;
    /** Age of the newest applied event; null before the first. */
    lag_seconds: number | null;
  };
  knots: {
    followed: number;
    connected: number;
    disconnected: { knot: string; seconds: number; error?: string }[];
  };
  providers: string[];
}

export function healthRoutes(deps: { health: () => Promise<HealthReport>; metrics: Metrics }) {
  return new Elysia({ name: "health" })
    .get("/healthz", async () => {
      const report = await deps.health();
      return new Response(`${JSON.stringify(report)}\n`, {
        status: report.status === "ok" || report.status === "degraded" ? 200 : 503,
        headers: { "content-type": "application/json", "cache-control": "no-store" },
      });
    })
    .get("/metrics", async () => {
      return new Response(await deps.metrics.scrape(), {
        headers: { "content-type": deps.metrics.registry.contentType },
      });
    });
}
