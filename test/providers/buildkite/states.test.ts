/** Buildkite build state → Tangled status, on build objects shaped like the API's. */
import { expect, setDefaultTimeout, test } from "bun:test";
import type { BuildkiteBuild } from "../../../src/providers/buildkite/schemas.ts";
import { observe, stateRank } from "../../../src/providers/buildkite/states.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

const URL = "https://buildkite.com/acme/app-ci/builds/7";
const build = (patch: Partial<BuildkiteBuild>): BuildkiteBuild => ({
  id: "0190a1b2-0000-4000-8000-000000000007",
  number: 7,
  state: "running",
  web_url: URL,
  ...patch,
});

test.each([
  ["creating", "pending"],
  ["scheduled", "pending"],
  ["waiting", "pending"],
  ["running", "running"],
  ["failing", "running"],
  ["canceling", "running"],
  ["waiting_failed", "running"],
  ["blocked", "running"],
  ["passed", "success"],
  ["failed", "failed"],
  ["canceled", "cancelled"],
  ["skipped", "cancelled"],
  ["not_run", "cancelled"],
] as const)("%s → %s", (state, status) => {
  expect(observe(build({ state }))?.status).toBe(status);
});

test("a passed build still blocked on a block step is running, not success", () => {
  expect(observe(build({ state: "passed", blocked: true }))?.status).toBe("running");
  expect(stateRank("blocked")).toBe(1);
});

test("a failed build with a timed-out job is a timeout naming the job", () => {
  const observation = observe(
    build({
      state: "failed",
      jobs: [
        { id: "a", type: "script", name: "unit", state: "passed", exit_status: 0 },
        { id: "b", type: "waiter" },
        { id: "c", type: "script", name: "e2e", state: "timed_out", exit_status: -1 },
      ],
    }),
  );
  expect(observation).toEqual({
    status: "timeout",
    detail: { error: `Buildkite build #7: job "e2e" timed out: ${URL}` },
  });
});

test("failed carries the build URL and the failing job's exit status", () => {
  expect(
    observe(
      build({
        state: "failed",
        jobs: [{ id: "a", type: "script", state: "failed", exit_status: 3 }],
      }),
    ),
  ).toEqual({
    status: "failed",
    detail: { error: `Buildkite build #7 failed: ${URL}`, exitCode: 3 },
  });
  expect(observe(build({ state: "failed" }))?.detail).toEqual({
    error: `Buildkite build #7 failed: ${URL}`,
  });
});

test("canceled names the reason when Buildkite gives one", () => {
  expect(observe(build({ state: "canceled", cancel_reason: "superseded" }))?.detail.error).toBe(
    `Buildkite build #7 was canceled (superseded): ${URL}`,
  );
});

test("an unknown state maps to nothing", () => {
  expect(observe(build({ state: "exploded" }))).toBeUndefined();
});

test("stored states never move back", () => {
  expect(stateRank("scheduled")).toBeLessThan(stateRank("running"));
  expect(stateRank("running")).toBeLessThan(stateRank("passed"));
  expect(stateRank(null)).toBeLessThan(stateRank("scheduled"));
});
