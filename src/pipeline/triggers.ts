/**
 * Owns the `triggers` table: the durable record that a pipeline trigger was accepted, which
 * makes processing once-ever (docs/design.md, *Statuses only move forward*) survive restarts and
 * repeated deliveries.
 */
import { Value } from "@sinclair/typebox/value";
import { and, eq, isNotNull, isNull, lt } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { pruneBatch } from "../db/prune-batch.ts";
import { triggers } from "../db/schema.ts";
import type { Tx, Writer } from "../db/writer.ts";
import { PipelineTrigger } from "../tangled/lexicons.ts";

export interface AcceptedTrigger {
  knot: string;
  rkey: string;
  record: PipelineTrigger;
}

export class Triggers {
  constructor(
    private readonly db: Db,
    private readonly writer: Writer,
  ) {}

  /** Durably records the trigger; resolves false (and changes nothing) if it was seen before. */
  accept(trigger: AcceptedTrigger): Promise<boolean> {
    return this.writer.write((tx) => {
      const inserted = tx
        .insert(triggers)
        .values({
          knot: trigger.knot,
          rkey: trigger.rkey,
          record: JSON.stringify(trigger.record),
          receivedAt: Date.now(),
        })
        .onConflictDoNothing()
        .returning({ rkey: triggers.rkey })
        .all();
      return inserted.length === 1;
    });
  }

  async markDispatched(knot: string, rkey: string): Promise<void> {
    await this.writer.write((tx) =>
      tx
        .update(triggers)
        .set({ dispatchedAt: Date.now() })
        .where(and(eq(triggers.knot, knot), eq(triggers.rkey, rkey)))
        .run(),
    );
  }

  /**
   * Forgets up to `limit` dispatched triggers received before `cutoffMs`. Only a knot replaying
   * more than the retention period could repeat one, and knots do not.
   */
  pruneBefore(tx: Tx, cutoffMs: number, limit: number): number {
    const old = and(isNotNull(triggers.dispatchedAt), lt(triggers.receivedAt, cutoffMs));
    return pruneBatch(tx, triggers, old, limit);
  }

  /** Accepted triggers whose workflows did not all reach a provider (a crash in between). */
  undispatched(): AcceptedTrigger[] {
    return this.db
      .select()
      .from(triggers)
      .where(isNull(triggers.dispatchedAt))
      .all()
      .flatMap((row) => {
        // Validated when accepted; re-checked because it comes back from disk.
        const record: unknown = JSON.parse(row.record);
        return Value.Check(PipelineTrigger, record)
          ? [{ knot: row.knot, rkey: row.rkey, record }]
          : [];
      });
  }
}
