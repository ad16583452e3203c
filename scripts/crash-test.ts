/**
 * `bun scripts/crash-test.ts [kills] [pushes per round] [webhooks per round] [binary]`:
 * the full-size crash-safety run. Kills tack with SIGKILL at random moments while pushes (each
 * with a Buildkite, a GitHub, a GitLab, a sourcehut and a fake workflow; announced by the knot
 * as a refUpdate, a legacy pipeline record, or both) and signed webhooks (sourcehut: completion
 * nudges) arrive, and every other round the moment a CI stand-in created a build, run, pipeline
 * or job; restarts it, and reports what was lost or repeated (the goal: nothing). Loopback only.
 * Exit code 1 if anything was. To see why, set CRASH_TEST_LOG=<file> to keep every tack
 * process's log lines (appended), and TACK_LOG_LEVEL=debug for more of them.
 */
import { runCrashTest } from "../test/helpers/crash-harness.ts";

const [kills = "30", triggers = "3", webhooks = "10", binary] = process.argv.slice(2);
const started = performance.now();
const report = await runCrashTest({
  kills: Number(kills),
  triggersPerRound: Number(triggers),
  webhooksPerRound: Number(webhooks),
  binary,
  log: (line) => console.error(line),
});
const seconds = ((performance.now() - started) / 1000).toFixed(1);
const problems =
  report.lostTriggers.length +
  report.repeatedDispatches.length +
  report.repeatedBuilds.length +
  report.repeatedRuns.length +
  report.repeatedGitlabPipelines.length +
  report.repeatedSourcehutJobs.length +
  report.lostWebhooks.length +
  report.repeatedRkeys +
  report.cursorRegressions +
  report.unfinishedWorkflows.length;
console.log(`| kills (SIGKILL) | ${report.kills} |
| of which inside a create window | ${report.createWindowKills} |
| pushes (refUpdate / both / legacy only) / workflows | ${report.triggers} / ${report.workflows} |
| Buildkite builds created | ${report.builds} |
| GitHub runs dispatched | ${report.runs} |
| GitLab pipelines created | ${report.gitlabPipelines} |
| sourcehut jobs submitted | ${report.sourcehutJobs} |
| webhooks sent / answered 200 | ${report.webhooksSent} / ${report.webhooksAcknowledged} |
| status events on /events | ${report.events} |
| workflows lost | ${report.lostTriggers.length} |
| pushes or workflows run twice | ${report.repeatedDispatches.length} |
| Buildkite builds created twice | ${report.repeatedBuilds.length} |
| GitHub runs dispatched twice | ${report.repeatedRuns.length} |
| GitLab pipelines created twice | ${report.repeatedGitlabPipelines.length} |
| sourcehut jobs submitted twice | ${report.repeatedSourcehutJobs.length} |
| acknowledged webhooks not reflected | ${report.lostWebhooks.length} |
| repeated status rkeys | ${report.repeatedRkeys} |
| /events cursor regressions | ${report.cursorRegressions} |
| workflows never finished | ${report.unfinishedWorkflows.length} |
| run time | ${seconds} s |`);
if (problems > 0) {
  console.error(JSON.stringify(report, null, 2));
  process.exit(1);
}
