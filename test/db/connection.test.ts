/**
 * The connection tack opens: durable commits (WAL, synchronous=FULL: an acknowledged webhook
 * survives power loss) and statement journals in memory (each writer unit's savepoint would
 * otherwise write every page it touches to a temporary file, twice per page).
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { openDb } from "../../src/db/client.ts";
import { tempDir } from "../helpers/temp.ts";

test("the database is opened in WAL mode with full fsync, its temporary storage in memory", () => {
  const opened = openDb(join(tempDir(), "tack.db"));
  try {
    const pragma = (name: string) =>
      Object.values(opened.sqlite.query(`PRAGMA ${name}`).get() as Record<string, unknown>)[0];
    expect(pragma("journal_mode")).toBe("wal");
    expect(Number(pragma("synchronous"))).toBe(2); // FULL
    expect(Number(pragma("temp_store"))).toBe(2); // MEMORY
  } finally {
    opened.close();
  }
});
