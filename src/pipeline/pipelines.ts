/**
 * Owns the `pipelines` table: every pipeline tack runs, first-class.
 *
 * - A pipeline a knot announced keeps the knot's TID; one tack makes gets a fresh TID from
 *   the event log's clock, and its sh.tangled.pipeline record is published on /events in the
 *   same commit, before any status of it can be (older appviews learn it there; knots'
 *   pipelines are not republished, the appview has them from the knot).
 * - (knot, rkey) is unique: recording a pipeline twice changes nothing and says so, which makes
 *   a knot's pipeline run once, ever.
 * - `created` comes from the event log's clock (Unix ns): it orders pipelines newest first for
 *   sh.tangled.ci.queryPipelines and is that method's cursor.
 * - A pipeline stays undispatched until every workflow reached its provider; `undispatched()`
 *   lists what a crash interrupted.
 */
import { TypeCompiler } from "@sinclair/typebox/compiler";
import {
  and,
  asc,
  desc,
  eq,
  fillPlaceholders,
  gte,
  inArray,
  isNotNull,
  isNull,
  lt,
  max,
  type SQL,
  sql,
} from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Db } from "../db/client.ts";
import { prepareOnce } from "../db/prepare-once.ts";
import { pruneBatch } from "../db/prune-batch.ts";
import { pipelineCounts, pipelines } from "../db/schema.ts";
import type { OnCommit, Tx, Writer } from "../db/writer.ts";
import type { Broker } from "../eventlog/broker.ts";
import { canonicalJson, type JsonValue } from "../eventlog/canonical-json.ts";
import {
  NSID_PIPELINE,
  PipelineRecord,
  type TriggerKind,
  type TriggerMetadata,
} from "../tangled/lexicons.ts";

export type PipelineOrigin = "knot" | "tack";

export interface StoredPipeline {
  /** The pipeline's TID: its rkey in status at-uris and its id in sh.tangled.ci.*. */
  rkey: string;
  /** The repo's knot: the authority of the pipeline's at-uri. */
  knot: string;
  /** The repo DID, or the owner DID for repos that predate repo DIDs. */
  repo: string;
  kind: TriggerKind;
  commit: string;
  origin: PipelineOrigin;
  record: PipelineRecord;
  /** Unix ns on the event log's timeline. */
  created: bigint;
  dispatched: boolean;
}

export interface PipelineQuery {
  repo: string;
  commits?: string[];
  kinds?: TriggerKind[];
  limit: number;
  /** Only pipelines created before this (Unix ns). */
  before?: bigint;
}

export class Pipelines {
  private readonly byRkey;
  private readonly statements = new Map<string, ReturnType<Pipelines["prepareQuery"]>>();

  constructor(
    private readonly db: Db,
    private readonly writer: Writer,
    private readonly broker: Broker,
  ) {
    this.byRkey = prepareOnce(() =>
      db
        .select()
        .from(pipelines)
        .where(eq(pipelines.rkey, sql.placeholder("rkey")))
        .orderBy(desc(pipelines.created))
        .limit(1)
        .prepare(),
    );
  }

  /**
   * Stamps kept only here, so the event log's clocks start above them after a restart: the
   * newest `created`, and the greatest TID tack minted (knots' TIDs are theirs, not ours).
   */
  static highWater(db: Db): { created?: bigint; tid?: string } {
    // Plain SQL: read once at start-up, where building a drizzle query costs more than the
    // read. `origin = 'tack'` is the partial index's own condition, literally, or SQLite would
    // not use it.
    const row = db.$client
      .query<{ created: bigint | null; tid: string | null }, []>(
        "SELECT (SELECT max(created) FROM pipelines) AS created, (SELECT max(rkey) FROM pipelines WHERE origin = 'tack') AS tid",
      )
      .get();
    return {
      created:
        row?.created === null || row?.created === undefined ? undefined : BigInt(row.created),
      tid: row?.tid ?? undefined,
    };
  }

  /**
   * A pipeline a knot announced, under the knot's own rkey. Resolves undefined, changing
   * nothing, when that (knot, rkey) was recorded before.
   */
  recordFromKnot(
    knot: string,
    rkey: string,
    record: PipelineRecord,
  ): Promise<StoredPipeline | undefined> {
    return this.writer.write((tx) => this.recordFromKnotInTx(tx, knot, rkey, record));
  }

  /** `recordFromKnot` inside the caller's transaction. */
  recordFromKnotInTx(
    tx: Tx,
    knot: string,
    rkey: string,
    record: PipelineRecord,
  ): StoredPipeline | undefined {
    return this.insert(tx, { knot, rkey, record, origin: "knot" });
  }
  /**
   * A pipeline tack made: mints its TID and publishes its record on /events in the same
   * commit. `inTx` lets the caller commit its own rows (e.g. a de-duplication key) with it.
   */
  create(
    record: PipelineRecord,
    inTx?: (tx: Tx, pipeline: StoredPipeline) => void,
  ): Promise<StoredPipeline> {
    return this.writer.write((tx, onCommit) => {
      const pipeline = this.createInTx(tx, onCommit, record);
      inTx?.(tx, pipeline);
      return pipeline;
    });
  }

  /** `create` inside the caller's transaction. */
  createInTx(tx: Tx, onCommit: OnCommit, record: PipelineRecord): StoredPipeline {
    const rkey = this.broker.store.mintTid();
    const event = this.broker.appendInTx(
      tx,
      onCommit,
      NSID_PIPELINE,
      { ...toJson(record), $type: NSID_PIPELINE },
      { rkey },
    );
    const pipeline = this.insert(tx, {
      knot: record.triggerMetadata.repo.knot,
      rkey,
      record,
      origin: "tack",
      created: event.created,
    });
    if (!pipeline) throw new Error(`pipelines: minted id ${rkey} already taken`);
    return pipeline;
  }

  get(rkey: string): StoredPipeline | undefined {
    const row = this.byRkey().get({ rkey });
    return row && toStored(row);
  }

  /**
   * The YAML of one workflow of a recorded pipeline, as the knot sent it (undefined once the
   * pipeline is pruned). For providers that hand it to the build (TACK_WORKFLOW_RAW); static,
   * like highWater, because a provider holds the database but no Pipelines.
   */
  static workflowRaw(db: Db, knot: string, rkey: string, name: string): string | undefined {
    const row = db
      .select()
      .from(pipelines)
      .where(and(eq(pipelines.knot, knot), eq(pipelines.rkey, rkey)))
      .get();
    return row && toStored(row).record.workflows.find((workflow) => workflow.name === name)?.raw;
  }

  /** The newest pipelines of every repo, newest first (the operator's status page). */
  recent(limit: number): StoredPipeline[] {
    return this.db
      .select()
      .from(pipelines)
      .orderBy(desc(pipelines.created))
      .limit(limit)
      .all()
      .map(toStored);
  }

  /** One page of a repo's pipelines, newest first, and how many match including older pages. */
  query(query: PipelineQuery): { pipelines: StoredPipeline[]; total: number } {
    const { page, counts } = this.statementsFor(query);
    const params = queryParams(query);
    const rows = page.all(params);
    const [first, second] = counts.map((statement) => Number(statement.get(params)?.count ?? 0));
    // Without `commits`, the repo's kept counts minus what is newer than the cursor: a first
    // page costs a lookup however many pipelines the repo has.
    const total = second === undefined ? (first ?? 0) : (first ?? 0) - second;
    return { pipelines: rows.map(toStored), total };
  }

  /**
   * SQLite's plan for `query` (its page and its count), one line per step: for operators and
   * tests checking that answering walks indexes, not tables.
   */
  explain(query: PipelineQuery): string[] {
    const values = queryParams(query);
    const { page, counts } = this.statementsFor(query);
    return [page, ...counts]
      .map((statement) => statement.getQuery())
      .flatMap(({ sql: text, params }) => {
        const bindings = fillPlaceholders(params, values).map((value) => {
          if (typeof value === "string" || typeof value === "number" || typeof value === "bigint") {
            return value;
          }
          throw new Error(`pipelines: cannot explain a query bound to ${typeof value}`);
        });
        return this.db.$client
          .query<{ detail: string }, (string | number | bigint)[]>(`EXPLAIN QUERY PLAN ${text}`)
          .all(...bindings)
          .map((row) => row.detail);
      });
  }

  /**
   * Prepared once per shape of query (which filters it uses), with lists bound as JSON arrays:
   * a handful of statements serve every query, and none is built per request.
   */
  private statementsFor(query: PipelineQuery) {
    const shape = [query.kinds?.length, query.commits?.length, query.before !== undefined]
      .map(Boolean)
      .join();
    const cached = this.statements.get(shape);
    if (cached) return cached;
    const statements = this.prepareQuery(query);
    this.statements.set(shape, statements);
    return statements;
  }

  private prepareQuery(query: PipelineQuery) {
    const where = this.matching(query);
    const page = this.page(where).prepare();
    if (query.commits?.length) return { page, counts: [this.count(where).prepare()] };
    const kept = this.db
      .select({ count: sql<number>`coalesce(sum(${pipelineCounts.count}), 0)` })
      .from(pipelineCounts)
      .where(
        and(
          eq(pipelineCounts.repo, sql.placeholder("repo")),
          query.kinds?.length ? inJsonList(pipelineCounts.kind, "kinds") : undefined,
        ),
      )
      .prepare();
    if (query.before === undefined) return { page, counts: [kept] };
    const newer = this.count(
      this.matching(
        { ...query, before: undefined },
        gte(pipelines.created, sql.placeholder("before")),
      ),
    ).prepare();
    return { page, counts: [kept, newer] };
  }

  private matching(query: PipelineQuery, ...also: SQL[]) {
    const filters = [eq(pipelines.repo, sql.placeholder("repo")), ...also];
    if (query.kinds?.length) filters.push(inJsonList(pipelines.kind, "kinds"));
    if (query.commits?.length) {
      filters.push(inJsonList(pipelines.commitSha, "commits"));
      // At most one pipeline per commit, the newest (the lexicon's promise for `commits`).
      const newestPerCommit = this.db
        .select({ created: max(pipelines.created) })
        .from(pipelines)
        .where(and(...filters))
        .groupBy(pipelines.commitSha);
      filters.push(inArray(pipelines.created, newestPerCommit));
    }
    if (query.before !== undefined) filters.push(lt(pipelines.created, sql.placeholder("before")));
    return and(...filters);
  }

  private page(where: ReturnType<Pipelines["matching"]>) {
    return this.db
      .select()
      .from(pipelines)
      .where(where)
      .orderBy(desc(pipelines.created))
      .limit(sql.placeholder("limit"));
  }

  private count(where: ReturnType<Pipelines["matching"]>) {
    return this.db.select({ count: sql<number>`count(*)` }).from(pipelines).where(where);
  }

  async markDispatched(knot: string, rkey: string): Promise<void> {
    await this.writer.write((tx) =>
      tx
        .update(pipelines)
        .set({ dispatchedAt: Date.now() })
        .where(and(eq(pipelines.knot, knot), eq(pipelines.rkey, rkey)))
        .run(),
    );
  }

  /** Pipelines whose workflows did not all reach a provider (a crash in between), oldest first. */
  undispatched(): StoredPipeline[] {
    return this.db
      .select()
      .from(pipelines)
      .where(isNull(pipelines.dispatchedAt))
      .orderBy(asc(pipelines.created))
      .all()
      .map(toStored);
  }

  /**
   * Forgets up to `limit` dispatched pipelines received before `cutoffMs`, like the events
   * that published them. Only a knot replaying more than the retention period could announce
   * one again, and knots do not.
   */
  pruneBefore(tx: Tx, cutoffMs: number, limit: number): number {
    const old = and(isNotNull(pipelines.dispatchedAt), lt(pipelines.receivedAt, cutoffMs));
    return pruneBatch(tx, pipelines, old, limit);
  }

  private insert(
    tx: Tx,
    pipeline: {
      knot: string;
      rkey: string;
      record: PipelineRecord;
      origin: PipelineOrigin;
      created?: bigint;
    },
  ): StoredPipeline | undefined {
    const trigger = pipeline.record.triggerMetadata;
    const inserted = tx
      .insert(pipelines)
      .values({
        created: pipeline.created ?? this.broker.store.stamp(),
        knot: pipeline.knot,
        rkey: pipeline.rkey,
        repo: repoKey(trigger),
        kind: trigger.kind,
        commitSha: commitOf(trigger),
        origin: pipeline.origin,
        record: canonicalJson(toJson(pipeline.record)),
        receivedAt: Date.now(),
      })
      .onConflictDoNothing()
      .returning()
      .all();
    const row = inserted[0];
    return row && toStored(row);
  }
}

/** The key queryPipelines' `repo` matches: the repo DID, else (older records) the owner DID. */
/**
 * SQL true while the pipeline (knot, rkey) named by two columns of another table is still
 * retained: retention of finished workflows keeps those whose pipeline can still be shown.
 */
export function pipelineRetained(knot: SQLiteColumn, rkey: SQLiteColumn): SQL {
  return sql`(EXISTS (SELECT 1 FROM ${pipelines} WHERE ${pipelines.knot} = ${knot} AND ${pipelines.rkey} = ${rkey}))`;
}

export function repoKey(trigger: TriggerMetadata): string {
  return trigger.repo.repoDid ?? trigger.repo.did;
}

/** The commit a trigger runs on; "" when it names none. */
export function commitOf(trigger: TriggerMetadata): string {
  return trigger.push?.newSha ?? trigger.pullRequest?.sourceSha ?? trigger.manual?.sha ?? "";
}

/** `column IN (the JSON array bound to placeholder `name`)`: one statement for any list length. */
function inJsonList(column: SQLiteColumn, name: string): SQL {
  return sql`${column} IN (SELECT value FROM json_each(${sql.placeholder(name)}))`;
}

function queryParams(query: PipelineQuery) {
  return {
    repo: query.repo,
    kinds: JSON.stringify(query.kinds ?? []),
    commits: JSON.stringify(query.commits ?? []),
    before: query.before ?? 0n,
    limit: query.limit,
  };
}

function toJson(record: PipelineRecord): { [key: string]: JsonValue } {
  return JSON.parse(JSON.stringify(record));
}

/**
 * Compiled once, on first use (not at start-up): every page of queryPipelines checks up to 250
 * records read back from disk.
 */
let storedRecord: ReturnType<typeof TypeCompiler.Compile<typeof PipelineRecord>> | undefined;

function toStored(row: typeof pipelines.$inferSelect): StoredPipeline {
  const record: unknown = JSON.parse(row.record);
  // Validated before it was stored; checked again because it comes back from disk.
  storedRecord ??= TypeCompiler.Compile(PipelineRecord);
  if (!storedRecord.Check(record)) {
    throw new Error(`pipelines: stored record of ${row.knot}/${row.rkey} does not validate`);
  }
  return {
    rkey: row.rkey,
    knot: row.knot,
    repo: row.repo,
    kind: record.triggerMetadata.kind,
    commit: row.commitSha,
    origin: row.origin === "tack" ? "tack" : "knot",
    record,
    created: row.created,
    dispatched: row.dispatchedAt !== null,
  };
}
