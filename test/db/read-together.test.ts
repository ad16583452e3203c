/**
 * readTogether: a request's lookups run in one read transaction, so they see one snapshot of
 * the database (a commit by another connection in between is not half-seen), and inside a
 * writer's transaction they simply join it.
 */
import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { join } from "node:path";
import { openDb, readTogether } from "../../src/db/client.ts";
import { Writer } from "../../src/db/writer.ts";
import { tempDir } from "../helpers/temp.ts";

function setup() {
  const path = join(tempDir(), "tack.db");
  const opened = openDb(path);
  opened.sqlite.run("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)");
  opened.sqlite.run("INSERT INTO notes (text) VALUES ('first')");
  // Another process's connection: an operator's sqlite3, a restore.
  const other = new Database(path);
  return { opened, other };
}

const count = (sqlite: Database) =>
  Number(sqlite.query<{ n: number }, []>("SELECT count(*) AS n FROM notes").get()?.n);

test("lookups in readTogether share one snapshot; each one alone would see another connection's commit", () => {
  const { opened, other } = setup();
  try {
    const together = readTogether(opened.db, () => {
      const before = count(opened.sqlite);
      other.run("INSERT INTO notes (text) VALUES ('second')");
      return [before, count(opened.sqlite)];
    });
    expect(together).toEqual([1, 1]);
    expect(opened.sqlite.inTransaction).toBe(false);

    const alone = [count(opened.sqlite)];
    other.run("INSERT INTO notes (text) VALUES ('third')");
    alone.push(count(opened.sqlite));
    expect(alone).toEqual([2, 3]);
  } finally {
    other.close();
    opened.close();
  }
});

test("readTogether inside a writer's unit joins its transaction and sees its writes", async () => {
  const { opened, other } = setup();
  try {
    const writer = new Writer(opened.db);
    const seen = await writer.write(() => {
      opened.sqlite.run("INSERT INTO notes (text) VALUES ('in the unit')");
      return readTogether(opened.db, () => count(opened.sqlite));
    });
    expect(seen).toBe(2);
    expect(count(other)).toBe(2);
  } finally {
    other.close();
    opened.close();
  }
});

test("a lookup that throws ends its read transaction", () => {
  const { opened, other } = setup();
  try {
    expect(() =>
      readTogether(opened.db, () => opened.sqlite.query("SELECT * FROM no_such_table").get()),
    ).toThrow(/no such table/);
    expect(opened.sqlite.inTransaction).toBe(false);
    // The connection still writes: no read transaction was left open.
    opened.sqlite.run("INSERT INTO notes (text) VALUES ('after')");
    expect(count(other)).toBe(2);
  } finally {
    other.close();
    opened.close();
  }
});
