/** The GitHub → Tangled status table (docs/github.md repeats it). */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  stateOf,
  stateRank,
  statusOfJob,
  statusOfRun,
} from "../../../src/providers/github/states.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

const url = "https://github.com/acme/tangled-runner/actions/runs/1";

describe("github states", () => {
  test.each([
    ["requested", null, "pending"],
    ["queued", null, "pending"],
    ["waiting", null, "pending"],
    ["pending", null, "pending"],
    ["in_progress", null, "running"],
    ["completed", "success", "success"],
    ["completed", "neutral", "success"],
    ["completed", "failure", "failed"],
    ["completed", "startup_failure", "failed"],
    ["completed", "action_required", "failed"],
    ["completed", "stale", "failed"],
    ["completed", "timed_out", "timeout"],
    ["completed", "cancelled", "cancelled"],
    ["completed", "skipped", "cancelled"],
    ["completed", "something_new", "failed"],
    ["completed", null, "failed"],
  ])("run %s/%s → %s", (status, conclusion, expected) => {
    expect(String(statusOfRun({ status, conclusion, htmlUrl: url })?.status)).toBe(expected);
  });

  test("failures name the conclusion and link the run; plain results carry no error", () => {
    expect(
      statusOfRun({ status: "completed", conclusion: "failure", htmlUrl: url })?.detail,
    ).toEqual({
      error: `GitHub Actions run failed: ${url}`,
      exitCode: 1,
    });
    expect(
      statusOfRun({ status: "completed", conclusion: "something_new", htmlUrl: url })?.detail.error,
    ).toBe(`GitHub Actions run ended with conclusion "something_new": ${url}`);
    expect(
      statusOfRun({ status: "completed", conclusion: "success", htmlUrl: url })?.detail,
    ).toEqual({});
    expect(
      statusOfRun({ status: "completed", conclusion: "timed_out", htmlUrl: url })?.detail,
    ).toEqual({});
  });

  test("an unknown run status changes nothing", () => {
    expect(statusOfRun({ status: "frozen", conclusion: null, htmlUrl: url })).toBeUndefined();
  });

  test("jobs only ever show that the workflow runs", () => {
    expect(statusOfJob({ status: "queued", stepCount: 0 })).toBeUndefined();
    expect(statusOfJob({ status: "waiting", stepCount: 0 })).toBeUndefined();
    expect(statusOfJob({ status: "in_progress", stepCount: 0 })).toBe("running");
    expect(statusOfJob({ status: "completed", stepCount: 3 })).toBe("running");
    expect(statusOfJob({ status: "completed", stepCount: 0 })).toBeUndefined();
  });

  test("stored states only rank forward", () => {
    expect(stateOf({ status: "completed", conclusion: "success" })).toBe("completed:success");
    expect(stateOf({ status: "queued", conclusion: null })).toBe("queued");
    expect(stateRank(null)).toBeLessThan(stateRank("queued"));
    expect(stateRank("queued")).toBeLessThan(stateRank("in_progress"));
    expect(stateRank("in_progress")).toBeLessThan(stateRank("completed:failure"));
    expect(stateRank("tack:lost")).toBe(stateRank("completed:success"));
  });
});
