/**
 * Clocks for provider tests, so nothing waits on real seconds: status spacing, retries,
 * rate-limit waits, polls and list delays all run on the injected clock.
 */
import type { Clock } from "../../src/clock.ts";

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
