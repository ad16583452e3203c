/**
 * How often and how hard the GitLab provider talks to GitLab. Production uses the defaults;
 * tests and benchmarks pass shorter ones. Every wait is on the injected clock.
 */
import { DEFAULT_HTTP_TUNING, type HttpTuning } from "../http-client.ts";

export interface GitlabTuning {
  http: HttpTuning;
  /**
   * How long after a create GitLab may still leave the new pipeline out of its lists (its API
   * reads can come from a replica a moment behind).
   */
  listDelayMs: number;
  /** Creates tried at most after unclear failures, each after looking for the previous one. */
  maxCreates: number;
  /** A create whose pipeline is still not found after this long fails its workflow. */
  discoveryTimeoutMs: number;
  /** How often the reconciler wakes up. */
  reconcileIntervalMs: number;
  /** A pipeline with no webhook or poll for this long is polled. */
  staleAfterMs: number;
  /** How often a live /logs stream reads the job traces when no webhook woke it first. */
  logFollowIntervalMs: number;
  /** Background polls and live logs hold back while fewer requests than this are left. */
  reserveRequests: number;
  /** How long a webhook waits for the API read that confirms a finished pipeline. */
  confirmTimeoutMs: number;
}

export const DEFAULT_GITLAB_TUNING: GitlabTuning = {
  http: { ...DEFAULT_HTTP_TUNING, attempts: 3 },
  listDelayMs: 10_000,
  maxCreates: 3,
  discoveryTimeoutMs: 10 * 60_000,
  reconcileIntervalMs: 30_000,
  staleAfterMs: 2 * 60_000,
  logFollowIntervalMs: 5_000,
  reserveRequests: 50,
  confirmTimeoutMs: 5_000,
};
