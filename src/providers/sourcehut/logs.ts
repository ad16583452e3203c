/**
 * A workflow's /logs stream (and sh.tangled.ci.subscribePipelineLogs), built from its
 * builds.sr.ht job: the master log first, then each task's log.
 *
 * Blocks (step ids): 0 is "builds.sr.ht job #<id>", a system block (the appview shows it
 * collapsed) holding the master log: the runner booting the image, installing packages and
 * cloning sources. Each task then gets step id 1 + its place in the manifest, named after the
 * task, opened when the task starts. Logs are read by byte offset as they grow (log-text.ts);
 * a block ends when its task (or, for block 0, the job) is over and its log is read to the end.
 * The stream ends once the job is finished and every block ended.
 *
 * Every look first asks GraphQL where the logs are (`log { fullURL }`), which needs the
 * token's builds.sr.ht/LOGS:RO grant: a token without it is refused right there, and the stream
 * fails with LogsScopeError saying what to fix, instead of showing blank logs. The first look
 * happens before the WebSocket upgrade, so that failure is a real HTTP error. A look fetches
 * everything before it changes anything, so a failed look loses no line.
 *
 * It looks again every `logFollowIntervalMs`, or at once when a poll changed the job. A look
 * that sees the job in another state than the poller knows asks the poller to poll it now.
 */
import type { Clock } from "../../clock.ts";
import type { Logger } from "../../log.ts";
import { isTerminal } from "../../pipeline/status.ts";
import type { StoredWorkflow } from "../../pipeline/workflows.ts";
import { ApiError } from "../http-client.ts";
import { LogFollower } from "../log-follow.ts";
import { controlLine, dataLine, type LogLine, logTime, type WorkflowStore } from "../provider.ts";
import type { SourcehutJob, SourcehutJobs } from "./builds.ts";
import { accessDenied, type SourcehutClient } from "./client.ts";
import { cleanLine, LogText, masterLine } from "./log-text.ts";
import type { Poller } from "./reconcile.ts";
import type { ApiJobLogs } from "./schemas.ts";
import { isFinishedJob } from "./states.ts";
import type { JobTracker } from "./track.ts";
import type { SourcehutTuning } from "./tuning.ts";

/** The token cannot read logs: the operator must give it builds.sr.ht/LOGS:RO. */
export class LogsScopeError extends Error {
  constructor(instance: string, options?: { cause?: unknown }) {
    super(
      `sourcehut: tack's token (TACK_SOURCEHUT_TOKEN) lacks builds.sr.ht/LOGS:RO on ${instance}, so build logs cannot be read; create a personal access token with builds.sr.ht/JOBS:RW and builds.sr.ht/LOGS:RO`,
      options,
    );
    this.name = "LogsScopeError";
  }
}

/** Looks after the workflow finished before giving up on a job sourcehut still shows open. */
const TRAILING_LOOKS = 5;
/** Chunks of one file read per look at most (a huge log is read over several looks). */
const MAX_CHUNKS = 8;
const DONE_TASK = new Set(["SUCCESS", "FAILED", "SKIPPED"]);

export interface LogDeps {
  clients: Map<string, SourcehutClient>;
  jobs: SourcehutJobs;
  workflows: WorkflowStore;
  tracker: JobTracker;
  poller: Poller;
  log: Logger;
  clock: Clock;
  tuning: SourcehutTuning;
}

interface Block {
  stepId: number;
  name: string;
  path: string;
  text: LogText;
  /** The last time a master-log line carried. */
  lastTime: Date | undefined;
  ended: boolean;
}

export async function openJobLog(
  deps: LogDeps,
  workflow: StoredWorkflow,
  signal: AbortSignal,
): Promise<AsyncIterable<LogLine>> {
  const reader = new JobLogReader(deps, workflow, signal);
  const first = await reader.look();
  return reader.follow(first);
}

class JobLogReader {
  private master: Block | undefined;
  private readonly tasks = new Map<string, Block>();
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
      provider: "sourcehut",
      workflow: initial.id,
      log: deps.log,
      clock: deps.clock,
      signal,
      intervalMs: () => deps.tuning.logFollowIntervalMs,
      subscribe: (correlationId, listener) => deps.tracker.subscribe(correlationId, listener),
      fatal: (error) => error instanceof LogsScopeError,
    });
  }

  follow(first: LogLine[]): AsyncGenerator<LogLine> {
    return this.live.follow(first, this, () => this.deps.jobs.latestFor(this.initial.id));
  }

  /** One look at the workflow and its job: the lines that became visible since the last. */
  async look(): Promise<LogLine[]> {
    const workflow = this.deps.workflows.get(this.initial.id) ?? this.initial;
    const row = this.deps.jobs.latestFor(this.initial.id);
    const finished = isTerminal(workflow.status);
    this.live.beginLook(row);
    if (!row || row.jobId === null) {
      if (!finished) return [];
      this.done = true;
      return workflow.error ? this.errorBlock(workflow.error) : [];
    }
    const client = this.deps.clients.get(row.instance);
    if (!client) throw new Error(`sourcehut: ${row.instance} is no longer configured`);
    const job = await this.jobOf(client, row);
    if (!job) {
      if (!finished) return [];
      this.done = true;
      return this.errorBlock(workflow.error ?? `builds.sr.ht no longer shows job #${row.jobId}`);
    }
    if (job.status.toLowerCase() !== row.state) await this.deps.poller.pollNow(row);

    // Every request first: a failed look must change nothing, or its lines would be lost.
    const jobDone = isFinishedJob(job.status);
    const started = job.runner !== null || jobDone;
    const master =
      this.master ??
      this.block(0, `builds.sr.ht job #${job.id}`, pathOf(job.log, `/query/log/${job.id}/log`));
    const reads = new Map<Block, { chunks: Uint8Array[]; caughtUp: boolean }>();
    if (started && !master.ended) reads.set(master, await this.read(client, row, master));
    const taskBlocks: { block: Block; status: string }[] = [];
    job.tasks.forEach((task, index) => {
      if (task.status === "PENDING") return;
      const block =
        this.tasks.get(task.name) ??
        this.block(
          index + 1,
          task.name,
          pathOf(task.log, `/query/log/${job.id}/${encodeURIComponent(task.name)}/log`),
        );
      taskBlocks.push({ block, status: task.status });
    });
    for (const { block, status } of taskBlocks) {
      if (!block.ended && status !== "SKIPPED")
        reads.set(block, await this.read(client, row, block));
    }

    const lines: LogLine[] = [];
    if (!this.master) {
      this.master = master;
      lines.push(systemControl(0, "start", master.name, this.now()));
      lines.push(
        dataLine(0, `builds.sr.ht job #${job.id} on ${row.instance}`, "stdout", this.now()),
      );
    }
    const masterRead = reads.get(master);
    if (masterRead) lines.push(...this.masterLines(master, masterRead.chunks));
    for (const { block, status } of taskBlocks) {
      if (!this.tasks.has(block.name)) {
        this.tasks.set(block.name, block);
        lines.push(controlLine(block.stepId, "start", block.name, undefined, this.now()));
      }
      if (block.ended) continue;
      if (status === "SKIPPED") {
        lines.push(dataLine(block.stepId, "skipped", "stdout", this.now()));
        lines.push(controlLine(block.stepId, "end", block.name, undefined, this.now()));
        block.ended = true;
        continue;
      }
      const read = reads.get(block);
      const now = new Date(this.deps.clock.now());
      for (const raw of read ? block.text.push(concat(read.chunks)) : []) {
        lines.push(dataLine(block.stepId, cleanLine(raw), "stdout", now));
      }
      if ((DONE_TASK.has(status) || jobDone) && read?.caughtUp) {
        for (const raw of block.text.flush())
          lines.push(dataLine(block.stepId, cleanLine(raw), "stdout", now));
        lines.push(controlLine(block.stepId, "end", block.name, undefined, this.now()));
        block.ended = true;
      }
    }
    if (jobDone && !master.ended && (masterRead?.caughtUp ?? true)) {
      lines.push(...this.masterLines(master, [], true));
      lines.push(systemControl(0, "end", master.name, this.now()));
      master.ended = true;
    }
    if (jobDone && master.ended && [...this.tasks.values()].every((block) => block.ended)) {
      this.done = true;
    } else if (finished && (!started || ++this.trailingLooks >= TRAILING_LOOKS)) {
      // The workflow is over but its job is not (queued, or sourcehut lags): close what is open.
      lines.push(...this.closeAll());
      this.done = true;
    }
    return lines;
  }

  /** The job with where its logs are; a token without LOGS:RO is refused here. */
  private async jobOf(client: SourcehutClient, row: SourcehutJob): Promise<ApiJobLogs | null> {
    const answer = await client.jobLogs(row.jobId ?? 0, this.signal);
    if (accessDenied(answer.errors, "log")) throw new LogsScopeError(row.instance);
    if (answer.errors.length > 0 || answer.data === null) {
      const said = answer.errors.map((error) => error.message).join("; ");
      throw new Error(`sourcehut: could not read job #${row.jobId}: ${said || "no data"}`);
    }
    return answer.data.job;
  }

  /** The file's new bytes, up to MAX_CHUNKS reads; caughtUp once a read came back short. */
  private async read(
    client: SourcehutClient,
    row: SourcehutJob,
    block: Block,
  ): Promise<{ chunks: Uint8Array[]; caughtUp: boolean }> {
    const size = this.deps.tuning.logChunkBytes;
    const chunks: Uint8Array[] = [];
    let offset = block.text.offset;
    for (let i = 0; i < MAX_CHUNKS; i++) {
      let chunk: Awaited<ReturnType<SourcehutClient["logChunk"]>>;
      try {
        chunk = await client.logChunk(block.path, offset, size, this.signal);
      } catch (error) {
        if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
          throw new LogsScopeError(row.instance, { cause: error });
        }
        throw error;
      }
      // No file yet (the task just started): nothing to read, nothing missed.
      if (chunk.kind === "absent") return { chunks, caughtUp: true };
      chunks.push(chunk.bytes);
      offset += chunk.bytes.length;
      if (chunk.bytes.length < size) return { chunks, caughtUp: true };
    }
    return { chunks, caughtUp: false };
  }

  private masterLines(master: Block, chunks: Uint8Array[], last = false): LogLine[] {
    const raws = master.text.push(concat(chunks));
    if (last) raws.push(...master.text.flush());
    return raws.map((raw) => {
      const { time, text } = masterLine(raw);
      if (time) master.lastTime = time;
      return dataLine(0, text, "stdout", master.lastTime ?? new Date(this.deps.clock.now()));
    });
  }

  private block(stepId: number, name: string, path: string): Block {
    return { stepId, name, path, text: new LogText(), lastTime: undefined, ended: false };
  }

  private closeAll(): LogLine[] {
    const lines: LogLine[] = [];
    for (const block of this.tasks.values()) {
      if (block.ended) continue;
      block.ended = true;
      lines.push(controlLine(block.stepId, "end", block.name, undefined, this.now()));
    }
    if (this.master && !this.master.ended) {
      this.master.ended = true;
      lines.push(systemControl(0, "end", this.master.name, this.now()));
    }
    return lines;
  }

  /** A workflow that never got a job: its error, in block 0. */
  private errorBlock(error: string): LogLine[] {
    const name = "builds.sr.ht job";
    return [
      systemControl(0, "start", name, this.now()),
      dataLine(0, error, "stdout", this.now()),
      systemControl(0, "end", name, this.now()),
    ];
  }

  private now(): Date {
    return new Date(this.deps.clock.now());
  }
}

/** A system step's control line: no `step_kind`, so the appview shows the block collapsed. */
function systemControl(
  stepId: number,
  status: "start" | "end",
  name: string,
  time: Date = new Date(),
): LogLine {
  return {
    kind: "control",
    content: name,
    time: logTime(time),
    step_id: stepId,
    step_status: status,
  };
}

/** The path of a log URL sourcehut gave (tack fetches it from the instance it knows). */
function pathOf(log: { fullURL: string } | null | undefined, fallback: string): string {
  if (!log) return fallback;
  try {
    const url = new URL(log.fullURL);
    return url.pathname.startsWith("/query/log/") ? url.pathname : fallback;
  } catch {
    return fallback;
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0] ?? new Uint8Array();
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
