/**
 * Crash safety at CI size: SIGKILL at random moments (and right as a CI created a build) while
 * triggers and signed webhooks arrive; nothing acknowledged is lost, nothing is dispatched or
 * created twice. The full-size run is `bun scripts/crash-test.ts` (results in
 * docs/reliability.md).
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { runCrashTest } from "../helpers/crash-harness.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

test("SIGKILL during triggers and webhooks loses and repeats nothing", async () => {
  const report = await runCrashTest({ kills: 3, triggersPerRound: 2, webhooksPerRound: 4 });
  expect(report.triggers).toBe(6);
  expect(report.webhooksAcknowledged).toBeGreaterThan(0);
  // Round 2 of 3 is armed: a CI stand-in killed tack the moment it created a build or run.
  expect(report.createWindowKills).toBeGreaterThanOrEqual(1);
  expect({
    lostTriggers: report.lostTriggers,
    repeatedDispatches: report.repeatedDispatches,
    repeatedBuilds: report.repeatedBuilds,
    repeatedRuns: report.repeatedRuns,
    repeatedGitlabPipelines: report.repeatedGitlabPipelines,
    repeatedSourcehutJobs: report.repeatedSourcehutJobs,
    lostWebhooks: report.lostWebhooks,
    repeatedRkeys: report.repeatedRkeys,
    cursorRegressions: report.cursorRegressions,
    unfinishedWorkflows: report.unfinishedWorkflows,
  }).toEqual({
    lostTriggers: [],
    repeatedDispatches: [],
    repeatedBuilds: [],
    repeatedRuns: [],
    repeatedGitlabPipelines: [],
    repeatedSourcehutJobs: [],
    lostWebhooks: [],
    repeatedRkeys: 0,
    cursorRegressions: 0,
    unfinishedWorkflows: [],
  });
}, 120_000);
