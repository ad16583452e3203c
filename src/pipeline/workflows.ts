/**
 * Owns the `workflows` table and is the only way a workflow's status changes.
 *
 * Contracts:
 * - Forward only: a status is emitted only if it moves past the stored one (pending → running →
 *   terminal); duplicates and late, out-of-order reports are dropped (docs/design.md,
 *   *Statuses only move forward*).
 * - Whole-second spacing (docs/design.md, *One status per second per workflow*): the appview orders
 *   statuses by createdAt at 1 s precision, so each status of a workflow carries a later second than
 *   the previous one. A transition inside the same second waits for the next one; it is never stamped
 *   ahead.
 * - Transitions of one workflow are serialized; the row update and the status event commit in
 *   one transaction, and the returned promise resolves only after that commit.
 */
import { and, eq, isNull, lt, not, sql } from "drizzle-orm";
import { type Clock, systemClock } from "../clock.ts";
import type { Db } from "../db/client.ts";
import { prepareOnce } from "../db/prepare-once.ts";
import { pruneBatch } from "../db/prune-batch.ts";
import { WORKFLOW_UNFINISHED, workflowCounts, workflows } from "../db/schema.ts";
import type { OnCommit, Tx, Writer } from "../db/writer.ts";
import type { Broker } from "../eventlog/broker.ts";
import type { JsonValue } from "../eventlog/canonical-json.ts";
import { pipelineRetained } from "./pipelines.ts";
import {
  formatCreatedAt,
  isTerminal,
  movesForward,
  NSID_PIPELINE_STATUS,
  parseStatus,
  type WorkflowStatus,
} from "./status.ts";

export interface WorkflowId {
  knot: string;
  pipelineRkey: string;
  name: string;
}

export interface StatusDetail {
  error?: string;
  exitCode?: number;
}

/** A workflow's place in its run, as sh.tangled.ci.pipeline shows it. */
export interface WorkflowTimes {
  status: WorkflowStatus;
  /** The latest status's error. */
  error: string | null;
  /** createdAt of its `running` status. */
  startedAt: string | null;
  /** createdAt of its terminal status. */
  finishedAt: string | null;
}

export interface StoredWorkflow {
  id: WorkflowId;
  provider: string;
  options: JsonValue;
  context: JsonValue;
  status: WorkflowStatus;
  error: string | null;
  /** Whole second of the latest status's createdAt. */
  lastStatusSec: number;
  spawned: boolean;
}

/** The pipeline's AT-URI as the appview expects it: did:web + the raw knot host (ports kept). */
export function pipelineUri(knot: string, pipelineRkey: string): string {
  return `at://did:web:${knot}/sh.tangled.pipeline/${pipelineRkey}`;
}

export class Workflows {
  private readonly chains = new Map<string, Promise<unknown>>();

  // Built once: every webhook and transition looks a workflow up, and drizzle's query
  // building costs more than the indexed read itself.
  private readonly byId;
  private readonly progressOf;
  private readonly byPipelines;
  private readonly insert;
  private readonly update;

  constructor(
    private readonly db: Db,
    private readonly writer: Writer,
    private readonly broker: Broker,
    private readonly clock: Clock = systemClock,
  ) {
    this.byId = prepareOnce(() => db.select().from(workflows).where(namedByParameters()).prepare());
    // What a transition needs to decide, without decoding options and context.
    this.progressOf = prepareOnce(() =>
      db
        .select({ status: workflows.status, lastStatusSec: workflows.lastStatusSec })
        .from(workflows)
        .where(namedByParameters())
        .prepare(),
    );
    this.insert = prepareOnce(() =>
      db
        .insert(workflows)
        .values({
          knot: sql.placeholder("knot"),
          pipelineRkey: sql.placeholder("pipelineRkey"),
          name: sql.placeholder("name"),
          provider: sql.placeholder("provider"),
          options: sql.placeholder("options"),
          context: sql.placeholder("context"),
          status: sql.placeholder("status"),
          error: sql.placeholder("error"),
          lastStatusSec: sql.placeholder("lastStatusSec"),
          lastEventCreated: sql.placeholder("lastEventCreated"),
          startedAt: sql.placeholder("startedAt"),
          finishedAt: sql.placeholder("finishedAt"),
          createdAt: sql.placeholder("now"),
          updatedAt: sql.placeholder("now"),
        })
        .prepare(),
    );
    // Forward only, so `running` and the terminal status each set their time at most once.
    this.update = prepareOnce(() =>
      db
        .update(workflows)
        .set({
          status: sql`${sql.placeholder("status")}`,
          error: sql`${sql.placeholder("error")}`,
          lastStatusSec: sql`${sql.placeholder("lastStatusSec")}`,
          lastEventCreated: sql`${sql.placeholder("lastEventCreated")}`,
          updatedAt: sql`${sql.placeholder("now")}`,
          startedAt: sql`coalesce(${sql.placeholder("startedAt")}, ${workflows.startedAt})`,
          finishedAt: sql`coalesce(${sql.placeholder("finishedAt")}, ${workflows.finishedAt})`,
        })
        .where(namedByParameters())
        .prepare(),
    );
    this.byPipelines = prepareOnce(() =>
      db
        .select({
          pipelineRkey: workflows.pipelineRkey,
          name: workflows.name,
          status: workflows.status,
          error: workflows.error,
          startedAt: workflows.startedAt,
          finishedAt: workflows.finishedAt,
        })
        .from(workflows)
        .where(
          and(
            eq(workflows.knot, sql.placeholder("knot")),
            sql`${workflows.pipelineRkey} IN (SELECT value FROM json_each(${sql.placeholder("rkeys")}))`,
          ),
        )
        .prepare(),
    );
  }

  get(id: WorkflowId): StoredWorkflow | undefined {
    const row = this.row(id);
    return row && toStored(row);
  }

  private row(id: WorkflowId) {
    return this.byId().get({ knot: id.knot, pipelineRkey: id.pipelineRkey, name: id.name });
  }

  /**
   * Every workflow of each of `pipelineRkeys` (all on `knot`), by pipeline and name: the
   * sh.tangled.ci.pipeline view of a page of pipelines in one indexed read.
   */
  ofPipelines(knot: string, pipelineRkeys: string[]): Map<string, Map<string, WorkflowTimes>> {
    const byPipeline = new Map<string, Map<string, WorkflowTimes>>();
    for (const row of this.byPipelines().all({ knot, rkeys: JSON.stringify(pipelineRkeys) })) {
      const named = byPipeline.get(row.pipelineRkey) ?? new Map<string, WorkflowTimes>();
      byPipeline.set(row.pipelineRkey, named);
      named.set(row.name, {
        status: parseStatus(row.status),
        error: row.error,
        startedAt: row.startedAt,
        finishedAt: row.finishedAt,
      });
    }
    return byPipeline;
  }

  /** Every workflow of one pipeline, by name. */
  ofPipeline(knot: string, pipelineRkey: string): Map<string, WorkflowTimes> {
    return this.ofPipelines(knot, [pipelineRkey]).get(pipelineRkey) ?? new Map();
  }

  /**
   * How many workflows are in each status (for /metrics), without counting the table: the
   * finished ones are tallied by triggers as they finish (workflow_counts), the unfinished ones
   * counted through their partial index (as many as are in flight).
   */
  countByStatus(): Record<string, number> {
    const counts: Record<string, number> = { pending: 0, running: 0 };
    for (const row of this.db.select().from(workflowCounts).all()) counts[row.status] = row.count;
    const unfinished = this.db
      .select({ status: workflows.status, count: sql<number>`count(*)` })
      .from(workflows)
      // The partial index's own condition, literally, or SQLite will not use it.
      .where(sql.raw(WORKFLOW_UNFINISHED))
      .groupBy(workflows.status)
      .all();
    for (const row of unfinished) counts[row.status] = Number(row.count);
    return counts;
  }

  /**
   * Workflows of `provider` that have not reached a terminal status (for resuming at start).
   * Read through the (provider, status) index: start-up never reads finished work.
   */
  unfinished(provider: string): StoredWorkflow[] {
    return (
      this.db
        .select()
        .from(workflows)
        // The partial index's own condition, literally, or SQLite will not use it.
        .where(and(eq(workflows.provider, provider), sql.raw(WORKFLOW_UNFINISHED)))
        .all()
        .map(toStored)
    );
  }

  /**
   * Retention: deletes up to `limit` finished workflows whose latest status is older than
   * `cutoffMs` and whose pipeline is no longer retained, oldest first. Their status events then
   * age out with the rest of the log; an unfinished workflow always stays.
   */
  pruneBefore(tx: Tx, cutoffMs: number, limit: number): number {
    const old = and(
      // The partial index's own condition, literally, or SQLite will not use it.
      sql.raw(`NOT (${WORKFLOW_UNFINISHED})`),
      lt(workflows.updatedAt, cutoffMs),
      not(pipelineRetained(workflows.knot, workflows.pipelineRkey)),
    );
    return pruneBatch(tx, workflows, old, limit, workflows.updatedAt);
  }

  /**
   * Records a new workflow and emits its first status in one commit. Resolves false, changing
   * nothing, when the workflow is already known (a repeated trigger).
   */
  create(
    id: WorkflowId,
    init: { provider: string; options: JsonValue; context: JsonValue },
    status: WorkflowStatus,
    detail: StatusDetail = {},
  ): Promise<boolean> {
    return this.serialize(id, () => this.emit(id, status, detail, init));
  }

  /**
   * Moves a known workflow to `status`; resolves false if that would not move it forward.
   * `also` runs exactly once, in the same transaction as the status change (or in its own when
   * the status does not move): a provider records what caused the change (its build row, a
   * webhook's delivery id) atomically with it.
   */
  transition(
    id: WorkflowId,
    status: WorkflowStatus,
    detail: StatusDetail = {},
    also?: (tx: Tx) => void,
  ): Promise<boolean> {
    return this.serialize(id, () => this.emit(id, status, detail, undefined, also));
  }

  /** Marks that the provider accepted the workflow, so /logs asks the provider from now on. */
  async markSpawned(id: WorkflowId): Promise<void> {
    await this.writer.write((tx) =>
      tx
        .update(workflows)
        .set({ spawnedAt: this.clock.now() })
        .where(and(matches(id), isNull(workflows.spawnedAt)))
        .run(),
    );
  }

  private async emit(
    id: WorkflowId,
    status: WorkflowStatus,
    detail: StatusDetail,
    init?: { provider: string; options: JsonValue; context: JsonValue },
    also?: (tx: Tx) => void,
  ): Promise<boolean> {
    const key = { knot: id.knot, pipelineRkey: id.pipelineRkey, name: id.name };
    // The decision is taken inside the unit, on the row as the transaction sees it: no read of
    // its own before (a read outside a transaction takes and drops SQLite's lock). When the
    // status would share the previous one's second, the unit changes nothing and says until
    // when to wait; the next attempt decides again.
    for (;;) {
      const outcome = await this.writer.write((tx, onCommit) =>
        this.decide(tx, onCommit, key, status, detail, init, also),
      );
      if (typeof outcome === "boolean") return outcome;
      await this.clock.sleep(outcome.waitUntilMs - this.clock.now());
    }
  }

  /** One attempt of `emit`, inside a writer unit. */
  private decide(
    tx: Tx,
    onCommit: OnCommit,
    key: { knot: string; pipelineRkey: string; name: string },
    status: WorkflowStatus,
    detail: StatusDetail,
    init: { provider: string; options: JsonValue; context: JsonValue } | undefined,
    also: ((tx: Tx) => void) | undefined,
  ): boolean | { waitUntilMs: number } {
    // One connection: this read sees the transaction's own writes.
    const current = this.progressOf().get(key);
    if (init ? current : !current || !movesForward(parseStatus(current.status), status)) {
      also?.(tx);
      return false;
    }
    const lastSecond = current?.lastStatusSec ?? 0;
    const now = this.clock.now();
    if (Math.floor(now / 1000) <= lastSecond) return { waitUntilMs: (lastSecond + 1) * 1000 };
    const second = Math.floor(now / 1000);
    const createdAt = formatCreatedAt(second);
    const record: { [key: string]: JsonValue } = {
      $type: NSID_PIPELINE_STATUS,
      createdAt,
      pipeline: pipelineUri(key.knot, key.pipelineRkey),
      status,
      workflow: key.name,
    };
    if (detail.error !== undefined) record.error = detail.error;
    if (detail.exitCode !== undefined) record.exitCode = detail.exitCode;
    const event = this.broker.appendInTx(tx, onCommit, NSID_PIPELINE_STATUS, record);
    const changes = {
      ...key,
      status,
      error: detail.error ?? null,
      lastStatusSec: second,
      lastEventCreated: event.created,
      now,
      startedAt: status === "running" ? createdAt : null,
      finishedAt: isTerminal(status) ? createdAt : null,
    };
    if (init) {
      this.insert().run({
        ...changes,
        provider: init.provider,
        options: JSON.stringify(init.options),
        context: JSON.stringify(init.context),
      });
    } else {
      this.update().run(changes);
    }
    also?.(tx);
    return true;
  }

  /** Runs `task` after every earlier task of the same workflow has settled. */
  private serialize<T>(id: WorkflowId, task: () => Promise<T>): Promise<T> {
    const key = `${id.knot}\u0000${id.pipelineRkey}\u0000${id.name}`;
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous.then(task, task);
    const settled = next.catch(() => {});
    this.chains.set(key, settled);
    void settled.then(() => {
      if (this.chains.get(key) === settled) this.chains.delete(key);
    });
    return next;
  }
}

/** The workflow named by a prepared statement's `knot`, `pipelineRkey` and `name` parameters. */
function namedByParameters() {
  return and(
    eq(workflows.knot, sql.placeholder("knot")),
    eq(workflows.pipelineRkey, sql.placeholder("pipelineRkey")),
    eq(workflows.name, sql.placeholder("name")),
  );
}

function matches(id: WorkflowId) {
  return and(
    eq(workflows.knot, id.knot),
    eq(workflows.pipelineRkey, id.pipelineRkey),
    eq(workflows.name, id.name),
  );
}

function toStored(row: typeof workflows.$inferSelect): StoredWorkflow {
  return {
    id: { knot: row.knot, pipelineRkey: row.pipelineRkey, name: row.name },
    provider: row.provider,
    options: JSON.parse(row.options) as JsonValue,
    context: JSON.parse(row.context) as JsonValue,
    status: parseStatus(row.status),
    error: row.error,
    lastStatusSec: row.lastStatusSec,
    spawned: row.spawnedAt !== null,
  };
}
