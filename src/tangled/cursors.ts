/**
 * Owns the `cursors` table: where each upstream stream resumes. Writes happen inside the
 * caller's transaction, next to the change the event caused (see db/schema.ts).
 */
import { eq } from "drizzle-orm";
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
}
