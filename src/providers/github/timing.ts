/**
 * How often the GitHub provider looks at GitHub on its own. Production uses the defaults; tests
 * pass shorter ones through createGithubProvider's third argument.
 */
import type { RetryPolicy } from "./client.ts";

export interface GithubTiming {
  /**
   * Waits between searches for a dispatched run by its correlation id while spawn is still
   * running, when GitHub did not return the run id. After these, the reconciler keeps looking.
   */
  discoveryDelaysMs: number[];
  /** A dispatched run still not found after this long fails its workflow (run-name missing?). */
  discoveryTimeoutMs: number;
  /** How often the reconciler wakes up. */
  reconcileIntervalMs: number;
  /** A run with no webhook or poll for this long is polled (GitHub never redelivers). */
  staleAfterMs: number;
  /** How often a live /logs stream asks for the jobs when no webhook woke it first. */
  logFollowIntervalMs: number;
  /** Background polls pause while fewer than this many requests are left in the hour. */
  reserveRequests: number;
  retry: RetryPolicy;
}

export const DEFAULT_TIMING: GithubTiming = {
  discoveryDelaysMs: [1_000, 2_000, 3_000, 4_000],
  discoveryTimeoutMs: 10 * 60_000,
  reconcileIntervalMs: 30_000,
  staleAfterMs: 2 * 60_000,
  logFollowIntervalMs: 5_000,
  reserveRequests: 200,
  retry: { attempts: 3, baseDelayMs: 1_000, maxWaitMs: 60_000 },
};

/** Resolves after `ms`, or at once when `signal` aborts (shutdown never waits on a timer). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    // A provider that is never stopped (a failed start) must not keep the process alive.
    timer.unref();
    signal.addEventListener("abort", done);
  });
}
