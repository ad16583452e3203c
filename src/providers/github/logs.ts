/**
 * A workflow's /logs stream, built from its GitHub run.
 *
 * Blocks (step ids): 0 is "GitHub Actions run" with the run's URL (or, for a run that never
 * started, the workflow's error); each job then gets the next id, in the order jobs start,
 * named after the job. GitHub has no public live-log API, so while a job runs the stream shows
 * what the API does offer, its steps as they complete; when the job completes, its full log
 * (timestamps parsed, ANSI removed) and the block's end. The stream ends once the workflow is
 * finished and every job's log was sent.
 *
 * It looks again every `logFollowIntervalMs`, or at once when a webhook or poll about the run
 * was applied. The first look happens before the WebSocket upgrade, so an unreachable GitHub is
 * a real HTTP 500.
 */
import type { Clock } from "../../clock.ts";
import type { Logger } from "../../log.ts";
import { isTerminal } from "../../pipeline/status.ts";
import type { StoredWorkflow } from "../../pipeline/workflows.ts";
import { LogFollower } from "../log-follow.ts";
import { controlLine, dataLine, type LogLine, type WorkflowStore } from "../provider.ts";
import type { GithubRuns } from "./builds.ts";
import type { GithubClient } from "./client.ts";
import { parseJobLog } from "./log-text.ts";
import type { ApiJob } from "./schemas.ts";
import { stateRank } from "./states.ts";
import type { RunTracker } from "./track.ts";

const RUN_BLOCK = "GitHub Actions run";
/** Looks after the workflow finished before giving up on jobs GitHub still lists as open. */
const TRAILING_LOOKS = 5;
/** Looks at a completed job before accepting that GitHub has no log for it. */
const LOG_LOOKS = 3;

interface JobProgress {
  name: string;
  stepId: number;
  stepsShown: Set<number>;
  logLooks: number;
  ended: boolean;
}

export interface LogDeps {
  client: GithubClient;
  runs: GithubRuns;
  workflows: WorkflowStore;
  tracker: RunTracker;
  log: Logger;
  clock: Clock;
  followIntervalMs: number;
}

export async function openRunLog(
  deps: LogDeps,
  workflow: StoredWorkflow,
  signal: AbortSignal,
): Promise<AsyncIterable<LogLine>> {
  const reader = new RunLogReader(deps, workflow, signal);
  const first = await reader.look();
  return reader.follow(first);
}

class RunLogReader {
  private readonly jobs = new Map<number, JobProgress>();
  private nextStepId = 1;
  private headerShown = false;
  private trailingLooks = 0;
  /** True once everything was shown (the follower stops looking). */
  done = false;
  private readonly live: LogFollower;

  constructor(
    private readonly deps: LogDeps,
    private readonly initial: StoredWorkflow,
    signal: AbortSignal,
  ) {
    this.live = new LogFollower({
      provider: "github",
      workflow: initial.id,
      log: deps.log,
      clock: deps.clock,
      signal,
      intervalMs: () => deps.followIntervalMs,
      subscribe: (correlationId, listener) => deps.tracker.subscribe(correlationId, listener),
    });
  }

  follow(first: LogLine[]): AsyncGenerator<LogLine> {
    return this.live.follow(first, this, () => this.deps.runs.latestFor(this.initial.id));
  }

  /** One look at the workflow and its run: the lines that became visible since the last. */
  async look(): Promise<LogLine[]> {
    const workflow = this.deps.workflows.get(this.initial.id) ?? this.initial;
    const run = this.deps.runs.latestFor(this.initial.id);
    const finished = isTerminal(workflow.status);
    this.live.beginLook(run);
    if (!run || run.runId === null) {
      if (finished) {
        this.done = true;
        return workflow.error ? this.header(workflow.error) : [];
      }
      return [];
    }
    // Every API call first: a failed look must change nothing, or its lines would be lost.
    const jobs = await this.deps.client.listJobs(run.repo, run.runId);
    jobs.sort((a, b) => a.id - b.id);
    const logs = new Map<number, string | undefined>();
    for (const job of jobs) {
      if (job.status !== "completed" || this.jobs.get(job.id)?.ended) continue;
      logs.set(job.id, await this.deps.client.jobLog(run.repo, job.id));
    }
    const lines = this.headerShown ? [] : this.header(run.htmlUrl ?? `run ${run.runId}`);
    for (const job of jobs) lines.push(...this.jobLines(job, logs.get(job.id)));

    if (!finished || stateRank(run.state) < 2) return lines;
    if (jobs.every((job) => this.jobs.get(job.id)?.ended)) {
      this.done = true;
    } else if (++this.trailingLooks >= TRAILING_LOOKS) {
      // GitHub still lists jobs as open well after the run ended: close their blocks.
      for (const progress of this.jobs.values()) {
        if (!progress.ended) lines.push(controlLine(progress.stepId, "end", progress.name));
      }
      this.done = true;
    }
    return lines;
  }

  private header(text: string): LogLine[] {
    this.headerShown = true;
    return [
      controlLine(0, "start", RUN_BLOCK),
      dataLine(0, text),
      controlLine(0, "end", RUN_BLOCK),
    ];
  }

  /** The job's new lines; `text` is its log when it is completed (undefined: none yet). */
  private jobLines(job: ApiJob, text: string | undefined): LogLine[] {
    const waiting = ["queued", "waiting", "pending", "requested"].includes(job.status);
    let progress = this.jobs.get(job.id);
    if (!progress && waiting) return [];
    const lines: LogLine[] = [];
    if (!progress) {
      progress = {
        name: job.name,
        stepId: this.nextStepId++,
        stepsShown: new Set(),
        logLooks: 0,
        ended: false,
      };
      this.jobs.set(job.id, progress);
      lines.push(
        controlLine(progress.stepId, "start", job.name, undefined, timeOf(job.started_at)),
      );
      // A job first seen already completed gets its full log only, not a step summary too.
      if (job.status === "completed")
        for (const step of job.steps ?? []) progress.stepsShown.add(step.number);
    }
    if (progress.ended) return lines;
    if (job.status !== "completed") {
      for (const step of job.steps ?? []) {
        if (step.status !== "completed" || progress.stepsShown.has(step.number)) continue;
        progress.stepsShown.add(step.number);
        const outcome = step.conclusion ?? "done";
        lines.push(
          dataLine(
            progress.stepId,
            `step "${step.name}": ${outcome}`,
            outcome === "failure" ? "stderr" : "stdout",
            timeOf(step.completed_at),
          ),
        );
      }
      return lines;
    }
    // GitHub often needs a moment after completion before the log is downloadable.
    if (text === undefined && ++progress.logLooks < LOG_LOOKS && job.conclusion !== "skipped") {
      return lines;
    }
    const ended = timeOf(job.completed_at);
    if (text === undefined) {
      lines.push(
        dataLine(
          progress.stepId,
          `no log from GitHub (job ${job.conclusion ?? "ended"})`,
          "stdout",
          ended,
        ),
      );
    } else {
      for (const line of parseJobLog(text, timeOf(job.started_at))) {
        lines.push(dataLine(progress.stepId, line.text, line.stream, line.time ?? ended));
      }
    }
    lines.push(controlLine(progress.stepId, "end", job.name, undefined, ended));
    progress.ended = true;
    return lines;
  }
}

function timeOf(value: string | null | undefined): Date {
  const parsed = value ? new Date(value) : undefined;
  return parsed && !Number.isNaN(parsed.getTime()) ? parsed : new Date();
}
