/**
 * /logs for a Buildkite workflow: the build's command jobs in order, each as a
 * control start line (job name and command), its log as data lines (log-text.ts), and a
 * control end line. A finished build is read once; a running one is followed: each poll
 * re-reads the build for job states, asks the log's size and fetches only the new tail,
 * until every job and the build are finished. The stream ends early when `signal` aborts
 * (the client went away, or tack is stopping).
 *
 * Polling is rate-limit aware: while the API budget is nearly spent the poll interval
 * doubles (up to `maxPollMs`), leaving requests to spawns and webhook confirmations.
 */
import type { Clock } from "../../clock.ts";
import { isTerminal } from "../../pipeline/status.ts";
import type { StoredWorkflow } from "../../pipeline/workflows.ts";
import { pause } from "../pause.ts";
import { controlLine, dataLine, type LogLine, type WorkflowStore } from "../provider.ts";
import type { BuildkiteBuilds, BuildRef } from "./builds.ts";
import type { BuildkiteClient, BuildLocation } from "./client.ts";
import { LogLineSplitter } from "./log-text.ts";
import type { BuildkiteBuild, BuildkiteJob } from "./schemas.ts";
import { isFinishedState } from "./states.ts";
import { locationOf } from "./track.ts";
import type { LogsTuning } from "./tuning.ts";

export interface LogsDeps {
  client: BuildkiteClient;
  builds: BuildkiteBuilds;
  workflows: WorkflowStore;
  clock: Clock;
  tuning: LogsTuning;
}

const FINISHED_JOB = new Set([
  "passed",
  "failed",
  "timed_out",
  "canceled",
  "skipped",
  "broken",
  "expired",
  "finished",
  "waiting_failed",
  "blocked_failed",
  "unblocked_failed",
]);

/**
 * Opens the log. The build is read here, before the WebSocket upgrade, so an unreachable API
 * is an HTTP 500. A workflow whose spawn has not stored its build yet waits for it.
 */
export async function openBuildLogs(
  deps: LogsDeps,
  workflow: StoredWorkflow,
  signal: AbortSignal,
): Promise<AsyncIterable<LogLine>> {
  const [ref] = deps.builds.forWorkflow(workflow.id);
  if (!ref) return afterSpawn(deps, workflow, signal);
  const build = await deps.client.getBuild(locationOf(ref), { signal });
  return followBuild(deps, locationOf(ref, build.number), build, signal);
}

async function* afterSpawn(
  deps: LogsDeps,
  workflow: StoredWorkflow,
  signal: AbortSignal,
): AsyncGenerator<LogLine> {
  let ref: BuildRef | undefined;
  while (!ref && !signal.aborted) {
    const current = deps.workflows.get(workflow.id);
    if (!current || isTerminal(current.status)) return;
    await pause(deps.clock, deps.tuning.pollMs, signal);
    [ref] = deps.builds.forWorkflow(workflow.id);
  }
  if (!ref || signal.aborted) return;
  const build = await deps.client.getBuild(locationOf(ref), { signal });
  yield* followBuild(deps, locationOf(ref, build.number), build, signal);
}

async function* followBuild(
  deps: LogsDeps,
  at: BuildLocation,
  first: BuildkiteBuild,
  signal: AbortSignal,
): AsyncGenerator<LogLine> {
  let build = first;
  const done = new Set<string>();
  let step = 0;
  const poll = pollInterval(deps);
  while (!signal.aborted) {
    for (const listed of commandJobs(build)) {
      if (done.has(listed.id)) continue;
      if (!listed.started_at && (jobFinished(listed) || isFinishedState(build.state))) {
        done.add(listed.id); // never ran (skipped, canceled while waiting): no log to show
        continue;
      }
      if (!listed.started_at) break; // jobs are shown in order; wait for this one to start
      const stepId = step++;
      let job = listed;
      yield controlLine(
        stepId,
        "start",
        jobName(job),
        job.command ?? undefined,
        dateOf(job.started_at),
      );
      const splitter = new LogLineSplitter();
      let offset = 0;
      for (;;) {
        // The job's state was read before its log: once it says finished, this read is complete.
        const finished = jobFinished(job);
        const bytes = await deps.client.jobLog(at, job.id, offset, signal);
        offset += bytes.length;
        for (const line of splitter.push(bytes))
          yield dataLine(stepId, line.text, "stdout", line.time);
        if (finished || signal.aborted) break;
        await pause(deps.clock, poll(), signal);
        if (signal.aborted) return;
        build = await deps.client.getBuild(at, { signal });
        job = build.jobs?.find((candidate) => candidate.id === job.id) ?? {
          ...job,
          state: "finished",
        };
      }
      if (signal.aborted) return;
      for (const line of splitter.end()) yield dataLine(stepId, line.text, "stdout", line.time);
      yield controlLine(
        stepId,
        "end",
        jobName(job),
        job.command ?? undefined,
        dateOf(job.finished_at),
      );
      done.add(job.id);
    }
    if (isFinishedState(build.state) && commandJobs(build).every((job) => done.has(job.id))) return;
    await pause(deps.clock, poll(), signal);
    if (signal.aborted) return;
    build = await deps.client.getBuild(at, { signal });
  }
}

/** The next poll delay: doubles while the rate-limit budget is low, back to normal after. */
function pollInterval(deps: LogsDeps): () => number {
  let current = deps.tuning.pollMs;
  return () => {
    current = deps.client.lowOnBudget(deps.tuning.reserve)
      ? Math.min(current * 2, deps.tuning.maxPollMs)
      : deps.tuning.pollMs;
    return current;
  };
}

/** Jobs that run commands and have a log; waiters, block and trigger steps have none. */
function commandJobs(build: BuildkiteBuild): BuildkiteJob[] {
  return (build.jobs ?? []).filter((job) => job.type === "script" && job.retried !== true);
}

function jobFinished(job: BuildkiteJob): boolean {
  return Boolean(job.finished_at) || FINISHED_JOB.has(job.state ?? "");
}

function jobName(job: BuildkiteJob): string {
  return job.name ?? job.label ?? job.step_key ?? `job ${job.id}`;
}

function dateOf(value: string | null | undefined): Date | undefined {
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
