/** GitLab pipeline statuses → Tangled, as docs/gitlab.md's table says. */
import { describe, expect, test } from "bun:test";
import {
  stateRank,
  statusOfJob,
  statusOfPipeline,
  TIMEOUT_REASONS,
} from "../../../src/providers/gitlab/states.ts";

const URL = "https://gitlab.example.com/acme/tangled-runner/-/pipelines/7";

describe("gitlab statuses", () => {
  test("every documented pipeline status maps as the table says", () => {
    const table: [string, string][] = [
      ["created", "pending"],
      ["waiting_for_resource", "pending"],
      ["preparing", "pending"],
      ["pending", "pending"],
      ["scheduled", "pending"],
      ["waiting_for_callback", "pending"],
      ["manual", "pending"],
      ["running", "running"],
      ["canceling", "running"],
      ["success", "success"],
      ["failed", "failed"],
      ["canceled", "cancelled"],
      ["skipped", "cancelled"],
    ];
    for (const [gitlab, tangled] of table) {
      expect([gitlab, statusOfPipeline({ status: gitlab, webUrl: URL })?.status]).toEqual([
        gitlab,
        tangled,
      ]);
    }
    expect(statusOfPipeline({ status: "teleporting", webUrl: URL })).toBeUndefined();
  });

  test("a failed pipeline is a timeout when a failed job timed out, else failed naming the job", () => {
    for (const reason of TIMEOUT_REASONS) {
      expect(
        statusOfPipeline({
          status: "failed",
          webUrl: URL,
          jobs: [
            { name: "lint", status: "success", failureReason: null },
            { name: "build", status: "failed", failureReason: reason },
          ],
        }),
      ).toEqual({
        status: "timeout",
        detail: { error: `GitLab job "build" timed out (${reason}): ${URL}` },
      });
    }
    expect(
      statusOfPipeline({
        status: "failed",
        webUrl: URL,
        jobs: [{ name: "unit", status: "failed", failureReason: "script_failure" }],
      }),
    ).toEqual({
      status: "failed",
      detail: {
        error: `GitLab pipeline failed: job "unit" failed (script_failure): ${URL}`,
        exitCode: 1,
      },
    });
    // A timed-out job that was allowed to fail did not fail the pipeline: it stays success.
    expect(
      statusOfPipeline({
        status: "success",
        webUrl: URL,
        jobs: [{ name: "flaky", status: "failed", failureReason: "job_execution_timeout" }],
      })?.status,
    ).toBe("success");
    expect(statusOfPipeline({ status: "skipped", webUrl: URL })?.detail.error).toBe(
      `GitLab skipped the pipeline (no job ran): ${URL}`,
    );
  });

  test("jobs only ever say running; states rank so nothing moves back", () => {
    expect(statusOfJob({ status: "running", startedAt: null })).toBe("running");
    expect(statusOfJob({ status: "success", startedAt: "2026-01-01T00:00:00Z" })).toBe("running");
    expect(statusOfJob({ status: "canceled", startedAt: null })).toBeUndefined();
    expect(statusOfJob({ status: "pending", startedAt: null })).toBeUndefined();
    expect(stateRank("created")).toBeLessThan(stateRank("running"));
    expect(stateRank("manual")).toBeLessThan(stateRank("canceling"));
    expect(stateRank("running")).toBeLessThan(stateRank("skipped"));
    expect(stateRank("tack:lost")).toBe(stateRank("success"));
    expect(stateRank("teleporting")).toBeLessThan(stateRank("created"));
  });
});
