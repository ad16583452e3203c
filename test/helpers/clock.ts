/**
 * Clocks for tests, so nothing waits on real seconds.
 *
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

/**
 * A clock on which time runs `factor` times faster than real time, for everyone: status
 * spacing, retries, rate-limit waits and reconciliation all shrink alike, so their relative
 * order is the real one. Signatures must then be dated with this clock, and CI stand-ins that
 * stamp times should be given it too.
 */
export function fastClock(factor = 40): Clock {
  const origin = Date.now();
  return {
    now: () => origin + (Date.now() - origin) * factor,
    sleep: (ms) => Bun.sleep(Math.max(0, ms) / factor),
  };
}

/** A fast clock that remembers every wait it was asked for. */
export function recordingClock(factor = 40): { clock: Clock; sleeps: number[] } {
  const inner = fastClock(factor);
  const sleeps: number[] = [];
  return {
    sleeps,
    clock: {
      now: inner.now,
      sleep: (ms) => {
        sleeps.push(ms);
        return inner.sleep(ms);
      },
    },
  };
}
