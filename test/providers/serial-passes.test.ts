/** A reconciler's passes: one at a time, a failure logged without stopping the next, a clean stop. */
import { expect, test } from "bun:test";
import type { Clock } from "../../src/clock.ts";
import { createLogger } from "../../src/log.ts";
import { SerialPasses } from "../../src/providers/serial-passes.ts";

function setup() {
  const logged: { msg: string; err?: unknown }[] = [];
  const waiting: (() => void)[] = [];
  const sleeps: number[] = [];
  const clock: Clock = {
    now: () => 0,
    sleep: (ms) => {
      sleeps.push(ms);
      return new Promise((resolve) => waiting.push(resolve));
    },
  };
  const controller = new AbortController();
  const passes = new SerialPasses({
    clock,
    log: createLogger("error", (line) => logged.push(JSON.parse(line))),
    signal: controller.signal,
    failed: "example reconcile: pass failed",
  });
  const tick = () => {
    for (const resolve of waiting.splice(0)) resolve();
  };
  return { logged, sleeps, controller, passes, tick };
}

test("queued passes never overlap, and one that throws is logged while the next still runs", async () => {
  const { logged, passes } = setup();
  const events: string[] = [];
  let release: () => void = () => {};
  const first = passes.queue(async () => {
    events.push("first begins");
    await new Promise<void>((resolve) => {
      release = resolve;
    });
    events.push("first ends");
  });
  const second = passes.queue(async () => {
    events.push("second begins");
    throw new Error("CI unreachable");
  });
  const third = passes.queue(async () => {
    events.push("third runs");
  });
  await Bun.sleep(0);
  expect(events).toEqual(["first begins"]);
  release();
  await Promise.all([first, second, third]);
  expect(events).toEqual(["first begins", "first ends", "second begins", "third runs"]);
  expect(logged.map((entry) => entry.msg)).toEqual(["example reconcile: pass failed"]);
});

test("the periodic loop runs a pass after each interval, starts once, and stops on abort", async () => {
  const { sleeps, controller, passes, tick } = setup();
  let runs = 0;
  passes.every(30_000, async () => {
    runs++;
  });
  passes.every(30_000, async () => {
    runs += 100;
  });
  await Bun.sleep(0);
  expect(sleeps).toEqual([30_000]);
  expect(runs).toBe(0);
  tick();
  await Bun.sleep(0);
  expect(runs).toBe(1);
  expect(sleeps).toEqual([30_000, 30_000]);
  controller.abort();
  await passes.stopped();
  expect(runs).toBe(1);
});
