/**
 * Submits a workflow's builds.sr.ht job, exactly once, and learns its id.
 *
 * Order (each step durable before the next): a correlation id recorded in sourcehut_jobs
 * (reused by a later attempt) → the submit, through the kit's createOnce: recorded in
 * spawn_attempts first, and after a crash or an unclear answer (timeout, 5xx) the token
 * owner's recent jobs are searched for the one whose manifest carries the correlation id
 * (candidates are picked by note and tags first) before submitting again → the job id, linked
 * to the row, and the poller woken.
 */
import type { Clock } from "../../clock.ts";
import type { Db } from "../../db/client.ts";
import type { Logger } from "../../log.ts";
import { Pipelines } from "../../pipeline/pipelines.ts";
import type { StoredWorkflow } from "../../pipeline/workflows.ts";
import { newCorrelationId } from "../correlation-id.ts";
import { ApiError } from "../http-client.ts";
import type { BuildVariables } from "../provider.ts";
import type { SpawnAttempts } from "../spawn-attempts.ts";
import { createOnce } from "../spawn-once.ts";
import type { SourcehutJob, SourcehutJobs } from "./builds.ts";
import { type SourcehutClient, TOKEN_HINT } from "./client.ts";
import { baseUrl, PROVIDER } from "./config.ts";
import { readSourcehutOptions } from "./options.ts";
import { submitRequest } from "./request.ts";
import { NOT_SUBMITTED, stateRank } from "./states.ts";
import type { SourcehutTuning } from "./tuning.ts";

export interface SubmitDeps {
  db: Db;
  clients: Map<string, SourcehutClient>;
  /** The configured instance (a workflow without `instance` uses it). */
  instance: string;
  instances: string[];
  jobs: SourcehutJobs;
  attempts: SpawnAttempts;
  clock: Clock;
  log: Logger;
  dev: boolean;
  tuning: SourcehutTuning;
  signal: AbortSignal;
  /** Tells the poller a job was linked. */
  wake: () => void;
}

export class JobSubmitter {
  /** Correlation ids whose submit is under way in this process (the poller leaves them be). */
  private readonly submitting = new Set<string>();

  constructor(private readonly deps: SubmitDeps) {}

  inFlight(correlationId: string): boolean {
    return this.submitting.has(correlationId);
  }

  /** Resolves once builds.sr.ht accepted the job; throws a message for the workflow's author. */
  async spawn(workflow: StoredWorkflow, variables: BuildVariables): Promise<void> {
    const { jobs } = this.deps;
    const options = readSourcehutOptions(workflow.options, this.deps.instances);
    const instance = baseUrl(options.instance ?? this.deps.instance);
    const client = this.client(instance);
    const latest = jobs.latestFor(workflow.id);
    if (latest && latest.jobId !== null) return;
    // An open row without a job: an earlier spawn submitted (maybe) and then tack stopped.
    const earlier = latest && stateRank(latest.state) < 2 ? latest : undefined;
    const correlationId = earlier?.correlationId ?? newCorrelationId();
    const raw = Pipelines.workflowRaw(
      this.deps.db,
      workflow.id.knot,
      workflow.id.pipelineRkey,
      workflow.id.name,
    );
    const request = submitRequest({
      workflow,
      options,
      correlationId,
      variables,
      raw: raw ?? "",
      dev: this.deps.dev,
    });
    if (!earlier) {
      await jobs.create({
        correlationId,
        workflow: workflow.id,
        instance,
        note: request.note,
        tags: request.tags,
        firstPollMs: this.deps.tuning.minPollMs,
      });
    }
    const row = jobs.byCorrelationId(correlationId);
    if (!row) throw new Error("sourcehut: job record vanished before submit");
    const log = this.deps.log.child({
      knot: workflow.id.knot,
      pipeline_rkey: workflow.id.pipelineRkey,
      workflow: workflow.id.name,
      correlation_id: correlationId,
    });

    this.submitting.add(correlationId);
    let outcome: { id: number; found: boolean };
    try {
      outcome = await createOnce<typeof outcome>(
        {
          provider: PROVIDER,
          api: "builds.sr.ht",
          attempts: this.deps.attempts,
          clock: this.deps.clock,
          listDelayMs: this.deps.tuning.listDelayMs,
          maxAttempts: this.deps.tuning.maxSubmits,
          backoffMs: this.deps.tuning.http.backoffMs,
          signal: this.deps.signal,
        },
        workflow.id,
        {
          find: async () => {
            const id = await this.find(row);
            return id === undefined ? undefined : { id, found: true };
          },
          create: async () => ({ id: (await client.submit(request)).id, found: false }),
        },
      );
    } catch (error) {
      // A refusal created nothing; after unclear failures the poller may still find the job.
      if (error instanceof ApiError && error.kind === "refused") {
        await jobs.close(correlationId, NOT_SUBMITTED);
      }
      throw new Error(explain(error, instance), { cause: error });
    } finally {
      this.submitting.delete(correlationId);
    }
    await jobs.link(correlationId, outcome.id, this.deps.tuning.minPollMs);
    log.info(
      outcome.found ? "sourcehut: found the job an earlier submit created" : "sourcehut: submitted",
      { job_id: outcome.id, instance },
    );
    this.deps.wake();
  }

  /**
   * Looks through the token owner's recent jobs (newest first, back to a little before the
   * row was made) for the one this row submitted: same note and tags, and a manifest carrying
   * its correlation id. Undefined when there is none (yet).
   */
  async find(row: SourcehutJob): Promise<number | undefined> {
    const client = this.client(row.instance);
    const since = client.serverTime(row.createdAt - this.deps.tuning.clockSkewMs);
    let cursor: string | null = null;
    for (let page = 0; page < this.deps.tuning.findPages; page++) {
      const { results, cursor: next } = await client.jobsPage(cursor);
      for (const job of results) {
        if (job.note !== row.note || !sameTags(job.tags, row.tags)) continue;
        const manifest = await client.manifest(job.id);
        if (manifest?.includes(row.correlationId)) return job.id;
      }
      const older = results.some((job) => Date.parse(job.created) < since);
      if (next === null || older || results.length === 0) return undefined;
      cursor = next;
    }
    return undefined;
  }

  private client(instance: string): SourcehutClient {
    const client = this.deps.clients.get(instance);
    if (!client) {
      throw new Error(
        `tack.sourcehut.instance: ${instance} is not one of this spindle's builds.sr.ht instances`,
      );
    }
    return client;
  }
}

function sameTags(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((tag, i) => tag === b[i]);
}

/** The submit failure as the workflow's author and the operator can act on it. */
function explain(error: unknown, instance: string): string {
  const message = error instanceof Error ? error.message : String(error);
  if (!(error instanceof ApiError)) return message;
  if (error.kind === "refused" && error.status === undefined) {
    return `builds.sr.ht (${instance}) refused the job: ${error.details.excerpt ?? message}`;
  }
  if (error.status === 401 || error.status === 403) {
    return `builds.sr.ht (${instance}) refused tack's token: ${TOKEN_HINT}: ${message}`;
  }
  return message;
}
