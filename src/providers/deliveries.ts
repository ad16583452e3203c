/**
 * Owns `webhook_deliveries`: which deliveries a provider already applied, keyed by what
 * identifies a delivery (the CI's delivery id, or a digest of the signed body for a CI without
 * one), so replays and redeliveries are acknowledged without being applied twice.
 *
 * A provider checks `seen` before doing anything, and records the delivery with `firstSeen` in
 * the same transaction as the delivery's effect (the status change and its build row): a crash
 * then loses neither or both, and the CI's retry applies it once.
 */
import { and, eq, lt, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { prepareOnce } from "../db/prepare-once.ts";
import { pruneBatch } from "../db/prune-batch.ts";
import { webhookDeliveries } from "../db/schema.ts";
import type { Tx } from "../db/writer.ts";

export class WebhookDeliveries {
  // Every webhook asks `seen` and most record a key: prepared once.
  private readonly lookup;
  private readonly insert;

  constructor(db: Db) {
    this.lookup = prepareOnce(() =>
      db
        .select({ id: webhookDeliveries.deliveryId })
        .from(webhookDeliveries)
        .where(
          and(
            eq(webhookDeliveries.provider, sql.placeholder("provider")),
            eq(webhookDeliveries.deliveryId, sql.placeholder("deliveryId")),
          ),
        )
        .prepare(),
    );
    // bun:sqlite's own statement: it tells how many rows the insert changed.
    this.insert = prepareOnce(() =>
      db.$client.query<never, [string, string, number]>(
        "INSERT INTO webhook_deliveries (provider, delivery_id, received_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
      ),
    );
  }

  /** Whether the delivery was already applied. */
  seen(provider: string, deliveryId: string): boolean {
    return this.lookup().get({ provider, deliveryId }) !== undefined;
  }

  /** Records the delivery inside the caller's transaction; false when it was recorded before. */
  firstSeen(_tx: Tx, provider: string, deliveryId: string, now: number): boolean {
    // The prepared statement runs on the one connection, so it joins the caller's transaction.
    return this.insert().run(provider, deliveryId, now).changes === 1;
  }

  /** Forgets up to `limit` deliveries older than `cutoffMs` (replays that old are refused anyway). */
  pruneBefore(tx: Tx, cutoffMs: number, limit: number): number {
    return pruneBatch(tx, webhookDeliveries, lt(webhookDeliveries.receivedAt, cutoffMs), limit);
  }
}
