/**
 * A service clock for end-to-end tests whose waits take no real time: `sleep(ms)` moves the
 * clock forward by `ms` at once (yielding briefly, so a loop that sleeps cannot spin the CPU).
 * The one-status-per-second rule then costs nothing, while statuses still carry strictly
 * increasing whole seconds.
 */
import type { Clock } from "../../src/clock.ts";

export function compressedClock(): Clock & { offsetMs(): number } {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    sleep: async (ms) => {
      offset += Math.max(0, ms);
      await Bun.sleep(1);
    },
    offsetMs: () => offset,
  };
}
