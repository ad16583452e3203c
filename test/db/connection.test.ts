/**
 * The connection tack opens: durable commits (WAL, synchronous=FULL: an acknowledged webhook
 * survives power loss), statement journals in memory (each writer unit's savepoint would
 * otherwise write every page it touches to a temporary file, twice per page), and a page cache
 * that holds a large log's index interiors (16 MiB, where SQLite's default is 2 MiB).
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { openDb } from "../../src/db/client.ts";
import { tempDir } from "../helpers/temp.ts";

test("the database is opened in WAL mode with full fsync, its temporary storage in memory and a 16 MiB page cache", () => {
  const opened = openDb(join(tempDir(), "tack.db"));
  try {
    const pragma = (name: string) =>
      Object.values(opened.sqlite.query(`PRAGMA ${name}`).get() as Record<string, unknown>)[0];
    expect(pragma("journal_mode")).toBe("wal");
    expect(Number(pragma("synchronous"))).toBe(2); // FULL
    expect(Number(pragma("temp_store"))).toBe(2); // MEMORY
    // Negative: a size in KiB rather than in pages.
    expect(Number(pragma("cache_size"))).toBe(-16 * 1024);
  } finally {
    opened.close();
  }
});
