/**
 * Waiting on the injected clock, so a test clock speeds up every backoff, poll and rate-limit
 * wait alike. An abort (shutdown, a client gone) ends the wait early; the caller checks it.
 */
import type { Clock } from "../clock.ts";

export function pause(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (!signal) return clock.sleep(ms);
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener("abort", done);
      resolve();
    };
    signal.addEventListener("abort", done);
    void clock.sleep(ms).then(done);
  });
}
