/**
 * Crash safety at CI size (issue 7): SIGKILL at random moments while triggers and signed
 * webhooks arrive; nothing acknowledged is lost, nothing is dispatched twice. The full-size run
 * is `bun scripts/crash-test.ts` (results in docs/reliability.md).
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { runCrashTest } from "../helpers/crash-harness.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

test("SIGKILL during triggers and webhooks loses and repeats nothing", async () => {
  const report = await runCrashTest({ kills: 3, triggersPerRound: 2, webhooksPerRound: 4 });
  expect(report.triggers).toBe(6);
  expect(report.webhooksAcknowledged).toBeGreaterThan(0);
  expect({
    lostTriggers: report.lostTriggers,
    repeatedDispatches: report.repeatedDispatches,
    repeatedBuilds: report.repeatedBuilds,
    lostWebhooks: report.lostWebhooks,
    repeatedRkeys: report.repeatedRkeys,
    cursorRegressions: report.cursorRegressions,
    unfinishedWorkflows: report.unfinishedWorkflows,
  }).toEqual({
    lostTriggers: [],
    repeatedDispatches: [],
    repeatedBuilds: [],
    lostWebhooks: [],
    repeatedRkeys: 0,
    cursorRegressions: 0,
    unfinishedWorkflows: [],
  });
}, 120_000);
