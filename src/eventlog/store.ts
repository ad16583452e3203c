/**
 * Owns the `events` table: appends rows inside the caller's transaction and pages them out
 * by cursor. Nothing else reads or writes `events`.
 *
 * It also owns the two clocks every record of tack is stamped with: `created` (Unix ns,
 * strictly increasing) and TID record keys that never repeat. Pipelines take their `created`
 * and their ids from here too, so one timeline orders everything tack publishes.
 */
import { and, desc, lt, not, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { prepareOnce } from "../db/prepare-once.ts";
import { pruneBatch } from "../db/prune-batch.ts";
import { events, workflows } from "../db/schema.ts";
import type { Tx } from "../db/writer.ts";
import { NSID_PIPELINE_STATUS } from "../pipeline/status.ts";
import { canonicalJson, type JsonValue } from "./canonical-json.ts";
import { CreatedClock } from "./clock.ts";
import type { EventRow } from "./envelope.ts";
import { decodeTid, isTid, TidClock } from "./tid.ts";

/** A status record's `pipeline` is `at://did:web:<knot>/sh.tangled.pipeline/<rkey>` (pipelineUri). */
const AT_URI_PREFIX = "at://did:web:";
const PIPELINE_PATH = "/sh.tangled.pipeline/";

export class EventStore {
  private readonly created: CreatedClock;
  private readonly tids: TidClock;
  private readonly pageAfter;
  private readonly insert;

  /**
   * `highWater` seeds the clocks with stamps kept outside this table (pipelines tack stored
   * without an event), so they keep rising across restarts too.
   */
  constructor(db: Db, highWater: { created?: bigint; tid?: string } = {}) {
    // Seed both clocks from the newest row so stamps keep rising across restarts.
    const newest = db
      .select({ created: events.created })
      .from(events)
      .orderBy(desc(events.created))
      .limit(1)
      .get();
    // TIDs sort like their timestamps, so the greatest rkey carries the highest microsecond.
    const greatestTid = db
      .select({ rkey: sql<string | null>`max(${events.rkey})` })
      .from(events)
      .get()?.rkey;
    const created = newest?.created ?? 0n;
    this.created = new CreatedClock(
      highWater.created && highWater.created > created ? highWater.created : created,
    );
    let tidMicros = 0n;
    for (const tid of [greatestTid, highWater.tid]) {
      const micros = tid && isTid(tid) ? decodeTid(tid).micros : 0n;
      if (micros > tidMicros) tidMicros = micros;
    }
    this.tids = new TidClock(tidMicros);
    this.insert = prepareOnce(() =>
      db
        .insert(events)
        .values({
          created: sql.placeholder("created"),
          rkey: sql.placeholder("rkey"),
          nsid: sql.placeholder("nsid"),
          event: sql.placeholder("event"),
        })
        .prepare(),
    );
    // Replay reads pages back to back (src/http/events.ts): bun:sqlite's own prepared statement
    // skips drizzle's per-row mapping, which cost more than the read itself.
    this.pageAfter = prepareOnce(() =>
      db.$client.query<EventRow, [bigint, number]>(
        "SELECT created, rkey, nsid, event FROM events WHERE created > ? ORDER BY created LIMIT ?",
      ),
    );
  }

  /**
   * Inserts one event inside the caller's transaction `_tx` (the prepared insert runs on the
   * same single connection, so it joins it); the row is durable once that transaction commits.
   */
  append(
    _tx: Tx,
    nsid: string,
    record: { [key: string]: JsonValue },
    stamps: { created?: bigint; rkey?: string } = {},
  ): EventRow {
    const row: EventRow = {
      created: stamps.created ?? this.created.next(),
      rkey: stamps.rkey ?? this.tids.next(),
      nsid,
      event: canonicalJson(record),
    };
    this.insert().run({ ...row });
    return row;
  }

  /** The next `created` stamp (Unix ns), for rows that share the event log's timeline. */
  stamp(): bigint {
    return this.created.next();
  }

  /** A fresh TID that no event or pipeline has used, nor will. */
  mintTid(): string {
    return this.tids.next();
  }

  /**
   * Deletes up to `limit` of the oldest events created before `cutoff`, except each
   * workflow's latest status (workflows.last_event_created): what the appview may still show
   * stays replayable. Returns how many rows went.
   */
  pruneBefore(tx: Tx, cutoff: bigint, limit: number): number {
    // A status event names its workflow (pipeline at-uri and name): one primary-key lookup per
    // candidate row tells whether it is that workflow's latest, with no index to keep up on
    // every status change and no list of every workflow's latest event.
    const pipeline = sql`json_extract(${events.event}, '$.pipeline')`;
    const rest = sql`substr(${pipeline}, ${AT_URI_PREFIX.length + 1})`;
    const slash = sql`instr(${rest}, '/')`;
    const latest = sql`(${events.nsid} = ${sql.raw(`'${NSID_PIPELINE_STATUS}'`)} AND EXISTS (
      SELECT 1 FROM ${workflows}
      WHERE ${workflows.knot} = substr(${rest}, 1, ${slash} - 1)
        AND ${workflows.pipelineRkey} = substr(${rest}, ${slash} + ${PIPELINE_PATH.length})
        AND ${workflows.name} = json_extract(${events.event}, '$.workflow')
        AND ${workflows.lastEventCreated} = ${events.created}))`;
    const old = and(lt(events.created, cutoff), not(latest));
    return pruneBatch(tx, events, old, limit, events.created);
  }

  /** Up to `limit` rows with created > cursor, oldest first. */
  after(cursor: bigint, limit: number): EventRow[] {
    return this.pageAfter().all(cursor, limit);
  }
}
