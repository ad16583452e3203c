/**
 * How often and how hard the GitHub provider talks to GitHub. Production uses the defaults;
 * tests pass shorter ones. Every wait is on the injected clock.
 */
import { DEFAULT_HTTP_TUNING, type HttpTuning } from "../http-client.ts";

export interface GithubTuning {
  http: HttpTuning;
  /**
   * Waits between searches for a dispatched run by its correlation id while spawn is still
   * running, when GitHub did not return the run id. After these, the reconciler keeps looking.
   */
  discoveryDelaysMs: number[];
  /** A dispatched run still not found after this long fails its workflow (run-name missing?). */
  discoveryTimeoutMs: number;
  /** How long after a dispatch GitHub may still leave the new run out of its lists. */
  listDelayMs: number;
  /** Dispatches tried at most after unclear failures, each after looking for the previous one. */
  maxDispatches: number;
  /** How often the reconciler wakes up. */
  reconcileIntervalMs: number;
  /** A run with no webhook or poll for this long is polled (GitHub never redelivers). */
  staleAfterMs: number;
  /** How often a live /logs stream asks for the jobs when no webhook woke it first. */
  logFollowIntervalMs: number;
  /** Background polls pause while fewer than this many requests are left in the hour. */
  reserveRequests: number;
}

export const DEFAULT_GITHUB_TUNING: GithubTuning = {
  http: { ...DEFAULT_HTTP_TUNING, attempts: 3 },
  discoveryDelaysMs: [1_000, 2_000, 3_000, 4_000],
  discoveryTimeoutMs: 10 * 60_000,
  listDelayMs: 15_000,
  maxDispatches: 3,
  reconcileIntervalMs: 30_000,
  staleAfterMs: 2 * 60_000,
  logFollowIntervalMs: 5_000,
  reserveRequests: 200,
};
