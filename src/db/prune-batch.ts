/**
 * The bounded delete every retention prune is made of: up to `limit` rows of `table` matching
 * `where` (oldest first by `oldestFirst`, when given) go, inside the caller's transaction, so a
 * prune never holds the write lock for long (see src/eventlog/retention.ts). Rows are chosen by
 * rowid, which every tack table has. Returns how many went.
 */
import { inArray, type SQL, sql } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Tx } from "./writer.ts";

export function pruneBatch(
  tx: Tx,
  table: SQLiteTable,
  where: SQL | undefined,
  limit: number,
  oldestFirst?: SQLiteColumn,
): number {
  const chosen = tx.select({ rowid: sql<number>`rowid` }).from(table).where(where).$dynamic();
  if (oldestFirst) chosen.orderBy(oldestFirst);
  return tx
    .delete(table)
    .where(inArray(sql`rowid`, chosen.limit(limit)))
    .returning({ rowid: sql<number>`rowid` })
    .all().length;
}
