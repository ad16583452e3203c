/**
 * How hard and how often the Buildkite provider talks to Buildkite. Production uses the
 * defaults; tests and benchmarks pass shorter ones. Every wait is on the injected clock.
 */
import { DEFAULT_HTTP_TUNING, type HttpTuning } from "../http-client.ts";

export interface SpawnTuning {
  /** Creates tried at most, each after looking for the previous one. */
  maxAttempts: number;
  backoffMs: number;
  /** How long after a create Buildkite may still leave the new build out of its lists. */
  listDelayMs: number;
}

export interface ReconcileTuning {
  intervalMs: number;
  /** A build not heard from for this long is polled. */
  quietAfterMs: number;
  /** Builds polled per sweep at most. */
  batch: number;
  /** Sweeps stop while fewer requests than this are left in the rate-limit window. */
  reserve: number;
}

export interface LogsTuning {
  pollMs: number;
  /** Following slows down to at most this while the rate-limit budget is low. */
  maxPollMs: number;
  reserve: number;
}

export interface BuildkiteTuning {
  http: HttpTuning;
  spawn: SpawnTuning;
  reconcile: ReconcileTuning;
  logs: LogsTuning;
  /** How long a webhook waits for the confirming API read. */
  confirmTimeoutMs: number;
}

export const DEFAULT_BUILDKITE_TUNING: BuildkiteTuning = {
  http: DEFAULT_HTTP_TUNING,
  spawn: { maxAttempts: 4, backoffMs: 1_000, listDelayMs: 5_000 },
  reconcile: { intervalMs: 15_000, quietAfterMs: 120_000, batch: 20, reserve: 10 },
  logs: { pollMs: 3_000, maxPollMs: 30_000, reserve: 10 },
  confirmTimeoutMs: 5_000,
};
