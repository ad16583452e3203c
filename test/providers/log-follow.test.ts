/** The follow loop shared by the polling log readers: when it looks, and what a failed look does. */
import { expect, test } from "bun:test";
import type { Clock } from "../../src/clock.ts";
import { createLogger } from "../../src/log.ts";
import { LogFollower } from "../../src/providers/log-follow.ts";
import { dataLine, type LogLine } from "../../src/providers/provider.ts";

const WORKFLOW = { knot: "knot.test", pipelineRkey: "3m6mxh2znw222", name: "ci.yml" };
const BUILD = { correlationId: "corr-1" };

/** A clock whose sleeps end only when the test says so. */
function heldClock(): Clock & { sleeps: number[]; release(): void } {
  const waiting: (() => void)[] = [];
  const sleeps: number[] = [];
  return {
    now: () => 0,
    sleep: (ms) => {
      sleeps.push(ms);
      return new Promise((resolve) => waiting.push(resolve));
    },
    sleeps,
    release: () => {
      for (const resolve of waiting.splice(0)) resolve();
    },
  };
}

/** A reader whose looks are scripted: each entry is the look's lines, or an error it throws. */
function scriptedReader(follower: () => LogFollower, script: (LogLine[] | Error)[]) {
  const reader: { done: boolean; looks: number; look(): Promise<LogLine[]> } = {
    done: false,
    looks: 0,
    async look() {
      follower().beginLook(BUILD);
      reader.looks++;
      const next = script.shift();
      if (script.length === 0) reader.done = true;
      if (next instanceof Error) throw next;
      return next ?? [];
    },
  };
  return reader;
}

function setup(script: (LogLine[] | Error)[], fatal?: (error: unknown) => boolean) {
  const clock = heldClock();
  const logged: { msg: string; workflow?: string }[] = [];
  const log = createLogger("warn", (line) => logged.push(JSON.parse(line)));
  const listeners = new Set<() => void>();
  const subscribed: string[] = [];
  const follower = new LogFollower({
    provider: "example",
    workflow: WORKFLOW,
    log,
    clock,
    signal: new AbortController().signal,
    intervalMs: () => 2_000,
    subscribe: (correlationId, listener) => {
      subscribed.push(correlationId);
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    fatal,
  });
  const reader = scriptedReader(() => follower, script);
  const poke = () => {
    for (const listener of listeners) listener();
  };
  return { clock, logged, listeners, subscribed, follower, reader, poke };
}

test("subscribes only once consumed, looks at once on news, and unsubscribes when it ends", async () => {
  const { clock, listeners, subscribed, follower, reader, poke } = setup([
    [dataLine(1, "second")],
    [dataLine(1, "third")],
  ]);
  const stream = follower.follow([dataLine(1, "first")], reader, () => BUILD);
  expect(subscribed).toEqual([]);
  expect((await stream.next()).value).toMatchObject({ content: "first" });
  expect(subscribed).toEqual(["corr-1"]);

  // News before the follower waits: the next look needs no wait at all.
  poke();
  expect((await stream.next()).value).toMatchObject({ content: "second" });
  expect(clock.sleeps).toEqual([]);

  // No news: it waits the interval, and looks when the interval is over.
  const third = stream.next();
  await Bun.sleep(0);
  expect(clock.sleeps).toEqual([2_000]);
  expect(reader.looks).toBe(1);
  clock.release();
  expect((await third).value).toMatchObject({ content: "third" });
  expect((await stream.next()).done).toBe(true);
  expect(subscribed).toEqual(["corr-1"]);
  expect(listeners.size).toBe(0);
});

test("a failed look is retried with a warning; five in a row fail the stream", async () => {
  const boom = () => new Error("CI unreachable");
  const { clock, logged, listeners, follower, reader, poke } = setup([
    boom(),
    boom(),
    boom(),
    boom(),
    [dataLine(1, "after four failures")],
    boom(),
    boom(),
    boom(),
    boom(),
    boom(),
    [dataLine(1, "never shown")],
  ]);
  const stream = follower.follow([], reader, () => BUILD);
  const seen: string[] = [];
  const drained = (async () => {
    for await (const line of stream) seen.push(line.content);
  })();
  const outcome = drained.then(
    () => "ended",
    (error: Error) => error.message,
  );
  while ((await Promise.race([outcome, Bun.sleep(1).then(() => "")])) === "") {
    poke();
    clock.release();
  }
  expect(await outcome).toBe("CI unreachable");
  expect(seen).toEqual(["after four failures"]);
  expect(reader.looks).toBe(10);
  const warnings = logged.filter((entry) => entry.msg === "example logs: look failed, retrying");
  expect(warnings.length).toBe(8);
  expect(warnings[0]?.workflow).toBe("ci.yml");
  expect(listeners.size).toBe(0);
});

test("an error the provider calls fatal fails the stream at the first look", async () => {
  const { logged, follower, reader, poke } = setup(
    [new TypeError("token lacks scope"), [dataLine(1, "never shown")]],
    (error) => error instanceof TypeError,
  );
  const stream = follower.follow([], reader, () => BUILD);
  const next = stream.next();
  await Bun.sleep(0);
  poke();
  await expect(next).rejects.toThrow("token lacks scope");
  expect(reader.looks).toBe(1);
  expect(logged).toEqual([]);
});
