/** Wall time and waiting, injected so tests can run the 1-second status spacing on a fake clock. */
export interface Clock {
  /** Unix milliseconds. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => Bun.sleep(Math.max(0, ms)),
};
