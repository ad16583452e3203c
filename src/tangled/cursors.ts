/**
 * Owns the `cursors` table: where each upstream stream resumes. Writes happen inside the
 * caller's transaction, next to the change the event caused (see db/schema.ts).
 */
import { eq, like } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { cursors } from "../db/schema.ts";
import type { Tx } from "../db/writer.ts";

export class Cursors {
  constructor(private readonly db: Db) {}

  get(source: string): bigint | undefined {
    return this.db.select().from(cursors).where(eq(cursors.source, source)).get()?.cursor;
  }

  save(tx: Tx, source: string, cursor: bigint): void {
    tx.insert(cursors)
      .values({ source, cursor })
      .onConflictDoUpdate({ target: cursors.source, set: { cursor } })
      .run();
  }

  /** Sources whose name starts with `prefix` (e.g. every "knot:" cursor). */
  sources(prefix: string): string[] {
    return this.db
      .select({ source: cursors.source })
      .from(cursors)
      .where(like(cursors.source, `${prefix}%`))
      .all()
      .map((row) => row.source);
  }

  forget(tx: Tx, source: string): void {
    tx.delete(cursors).where(eq(cursors.source, source)).run();
  }
}
