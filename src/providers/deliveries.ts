/**
 * Owns `webhook_deliveries`: remembers which deliveries a provider already applied, keyed by
 * the CI's delivery id (or a digest of the exact request for CIs without one), so replays
 * and redeliveries are acknowledged without being applied twice.
 */

import { and, eq, inArray, lt, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { webhookDeliveries } from "../db/schema.ts";
import type { Tx } from "../db/writer.ts";

export class WebhookDeliveries {
  constructor(private readonly db: Db) {}

  /**
   * Whether the delivery was already applied. Read before any work; the insert (firstSeen)
   * comes last, after the delivery's effects, so a crash in between loses nothing.
   */
  seen(provider: string, deliveryId: string): boolean {
    return (
      this.db
        .select({ id: webhookDeliveries.deliveryId })
        .from(webhookDeliveries)
        .where(
          and(
            eq(webhookDeliveries.provider, provider),
            eq(webhookDeliveries.deliveryId, deliveryId),
          ),
        )
        .get() !== undefined
    );
  }

  /**
   * Records the delivery inside the caller's transaction; false when it was seen before.
   * Call it in the same transaction as the delivery's effects: a crash then loses neither.
   */
  firstSeen(tx: Tx, provider: string, deliveryId: string, now: number = Date.now()): boolean {
    const inserted = tx
      .insert(webhookDeliveries)
      .values({ provider, deliveryId, receivedAt: now })
      .onConflictDoNothing()
      .returning({ id: webhookDeliveries.deliveryId })
      .all();
    return inserted.length === 1;
  }

  /** Forgets up to `limit` deliveries older than `cutoffMs` (replays that old are refused anyway). */
  pruneBefore(tx: Tx, cutoffMs: number, limit: number): number {
    const old = tx
      .select({ rowid: sql<number>`rowid` })
      .from(webhookDeliveries)
      .where(lt(webhookDeliveries.receivedAt, cutoffMs))
      .limit(limit);
    return tx
      .delete(webhookDeliveries)
      .where(inArray(sql`rowid`, old))
      .returning({ id: webhookDeliveries.deliveryId })
      .all().length;
  }
}
