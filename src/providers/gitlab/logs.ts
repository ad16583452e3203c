/**
 * A workflow's /logs stream (and subscribePipelineLogs), built from its GitLab pipeline.
 *
 * Blocks (step ids): 0 is "GitLab pipeline" with the pipeline's URL (or, for a pipeline that
 * was never created, the workflow's error); each job then gets the next id, in the order jobs
 * start, named after the job. A running job's trace is followed as it grows: each look reads
 * only what is new past the bytes already shown (log-text.ts turns it into lines: sections,
 * timestamps and ANSI handled). A job's block ends once GitLab says it finished and its trace
 * was read to the end; jobs that never started (skipped, manual, cancelled while waiting) show
 * nothing. The stream ends once the workflow is finished and every job's block has ended.
 *
 * It looks again every `followIntervalMs` (slower while the API budget is low), or at once when
 * a webhook or poll about the pipeline was applied. The first look happens before the WebSocket
 * upgrade, so an unreachable GitLab is a real HTTP 500.
 */
import type { Clock } from "../../clock.ts";
import type { Logger } from "../../log.ts";
import { isTerminal } from "../../pipeline/status.ts";
import type { StoredWorkflow } from "../../pipeline/workflows.ts";
import { LogFollower } from "../log-follow.ts";
import { controlLine, dataLine, type LogLine, type WorkflowStore } from "../provider.ts";
import type { GitlabPipelines } from "./builds.ts";
import type { GitlabClient } from "./client.ts";
import { TraceSplitter } from "./log-text.ts";
import type { ApiJob } from "./schemas.ts";
import { isFinishedState, JOB_FINISHED, JOB_WAITING } from "./states.ts";
import type { PipelineTracker } from "./track.ts";

const PIPELINE_BLOCK = "GitLab pipeline";
/** Looks after the workflow finished before giving up on jobs GitLab still lists as open. */
const TRAILING_LOOKS = 5;
/** While the budget is low, looks are this many times further apart. */
const LOW_BUDGET_SLOWDOWN = 4;

interface JobProgress {
  name: string;
  stepId: number;
  /** Bytes of the trace already turned into lines. */
  offset: number;
  splitter: TraceSplitter;
  ended: boolean;
}

export interface LogDeps {
  client: GitlabClient;
  pipelines: GitlabPipelines;
  workflows: WorkflowStore;
  tracker: PipelineTracker;
  log: Logger;
  clock: Clock;
  followIntervalMs: number;
  reserveRequests: number;
}

export async function openPipelineLog(
  deps: LogDeps,
  workflow: StoredWorkflow,
  signal: AbortSignal,
): Promise<AsyncIterable<LogLine>> {
  const reader = new PipelineLogReader(deps, workflow, signal);
  const first = await reader.look();
  return reader.follow(first);
}

class PipelineLogReader {
  private readonly jobs = new Map<number, JobProgress>();
  /** Jobs that finished without ever starting: nothing to show, nothing to wait for. */
  private readonly skipped = new Set<number>();
  private nextStepId = 1;
  private headerShown = false;
  private trailingLooks = 0;
  /** True once everything was shown (the follower stops looking). */
  done = false;
  private readonly live: LogFollower;

  constructor(
    private readonly deps: LogDeps,
    private readonly initial: StoredWorkflow,
    private readonly signal: AbortSignal,
  ) {
    this.live = new LogFollower({
      provider: "gitlab",
      workflow: initial.id,
      log: deps.log,
      clock: deps.clock,
      signal,
      intervalMs: () =>
        deps.client.lowOnBudget(deps.reserveRequests)
          ? deps.followIntervalMs * LOW_BUDGET_SLOWDOWN
          : deps.followIntervalMs,
      subscribe: (correlationId, listener) => deps.tracker.subscribe(correlationId, listener),
    });
  }

  follow(first: LogLine[]): AsyncGenerator<LogLine> {
    return this.live.follow(first, this, () => this.deps.pipelines.latestFor(this.initial.id));
  }

  /** One look at the workflow and its pipeline: the lines that became visible since the last. */
  async look(): Promise<LogLine[]> {
    const workflow = this.deps.workflows.get(this.initial.id) ?? this.initial;
    const row = this.deps.pipelines.latestFor(this.initial.id);
    const finished = isTerminal(workflow.status);
    this.live.beginLook(row);
    if (!row || row.pipelineId === null) {
      if (finished) {
        this.done = true;
        return workflow.error ? this.header(workflow.error) : [];
      }
      return [];
    }
    // Every API call first: a failed look must change nothing, or its lines would be lost.
    const jobs = await this.deps.client.listJobs(row.project, row.pipelineId, {});
    jobs.sort((a, b) => a.id - b.id);
    const plans = new Map(jobs.map((job) => [job.id, this.plan(job)]));
    const traces = new Map<number, Uint8Array>();
    for (const job of jobs) {
      if (plans.get(job.id) !== "trace") continue;
      const offset = this.jobs.get(job.id)?.offset ?? 0;
      traces.set(job.id, await this.deps.client.jobTrace(row.project, job.id, offset, this.signal));
    }
    const lines = this.headerShown ? [] : this.header(row.webUrl ?? `pipeline ${row.pipelineId}`);
    const now = new Date(this.deps.clock.now());
    for (const job of jobs) {
      const trace = traces.get(job.id);
      if (trace) lines.push(...this.jobLines(job, trace, now));
      else if (plans.get(job.id) === "note") lines.push(...this.neverStarted(job, now));
    }

    if (!finished) return lines;
    const open = [...this.jobs.values()].filter((progress) => !progress.ended);
    // Once GitLab says the pipeline is over, a job that has not started never will (a manual
    // job left alone); before that, one may still start (a cancel tack asked for is under way).
    const unstarted = isFinishedState(row.state)
      ? []
      : jobs.filter(
          (job) =>
            !this.jobs.has(job.id) && !this.skipped.has(job.id) && !JOB_FINISHED.has(job.status),
        );
    if (open.length === 0 && unstarted.length === 0) {
      this.done = true;
    } else if (++this.trailingLooks >= TRAILING_LOOKS) {
      // GitLab still lists jobs as open well after the workflow ended: close their blocks.
      for (const progress of open) {
        for (const line of progress.splitter.end()) {
          lines.push(dataLine(progress.stepId, line.text, line.stream, line.time ?? now));
        }
        lines.push(controlLine(progress.stepId, "end", progress.name, undefined, now));
        progress.ended = true;
      }
      this.done = true;
    }
    return lines;
  }

  /**
   * What to do with a job in this look: read its trace (it started and its block is open),
   * show why it failed without starting (e.g. no runner picked it up), or nothing.
   */
  private plan(job: ApiJob): "trace" | "note" | "none" {
    const progress = this.jobs.get(job.id);
    if (progress?.ended || this.skipped.has(job.id)) return "none";
    if (progress) return "trace";
    if (JOB_WAITING.has(job.status)) return "none";
    if (JOB_FINISHED.has(job.status) && !job.started_at) {
      this.skipped.add(job.id);
      return job.status === "failed" ? "note" : "none";
    }
    return "trace";
  }

  /** A block for a job that failed before it ran: its failure reason is all there is. */
  private neverStarted(job: ApiJob, now: Date): LogLine[] {
    const stepId = this.nextStepId++;
    const reason = job.failure_reason ? ` (${job.failure_reason})` : "";
    return [
      controlLine(stepId, "start", job.name, undefined, now),
      dataLine(stepId, `did not start: ${job.status}${reason}`, "stderr", now),
      controlLine(stepId, "end", job.name, undefined, now),
    ];
  }

  private header(text: string): LogLine[] {
    this.headerShown = true;
    return [
      controlLine(0, "start", PIPELINE_BLOCK),
      dataLine(0, text),
      controlLine(0, "end", PIPELINE_BLOCK),
    ];
  }

  /** The job's new lines from `trace`, the bytes past what was shown before. */
  private jobLines(job: ApiJob, trace: Uint8Array, now: Date): LogLine[] {
    const lines: LogLine[] = [];
    let progress = this.jobs.get(job.id);
    if (!progress) {
      progress = {
        name: job.name,
        stepId: this.nextStepId++,
        offset: 0,
        splitter: new TraceSplitter(),
        ended: false,
      };
      this.jobs.set(job.id, progress);
      lines.push(
        controlLine(progress.stepId, "start", job.name, undefined, timeOf(job.started_at, now)),
      );
    }
    progress.offset += trace.length;
    const finished = JOB_FINISHED.has(job.status);
    const text = [...progress.splitter.push(trace), ...(finished ? progress.splitter.end() : [])];
    for (const line of text)
      lines.push(dataLine(progress.stepId, line.text, line.stream, line.time ?? now));
    if (finished) {
      lines.push(
        controlLine(progress.stepId, "end", job.name, undefined, timeOf(job.finished_at, now)),
      );
      progress.ended = true;
    }
    return lines;
  }
}

function timeOf(value: string | null | undefined, fallback: Date): Date {
  const parsed = value ? new Date(value) : undefined;
  return parsed && !Number.isNaN(parsed.getTime()) ? parsed : fallback;
}
