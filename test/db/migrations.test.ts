import { expect, test } from "bun:test";
import journal from "../../drizzle/meta/_journal.json" with { type: "json" };
import { openDb } from "../../src/db/client.ts";
import { runMigrations } from "../../src/db/migrate.ts";

test("migration journal `when` strictly increases (drizzle skips older entries)", () => {
  const whens = journal.entries.map((entry) => entry.when);
  for (let i = 1; i < whens.length; i++) expect(whens[i] ?? 0).toBeGreaterThan(whens[i - 1] ?? 0);
});

test("migrations apply to an empty database and again as a no-op", () => {
  const database = openDb(":memory:");
  runMigrations(database.db);
  runMigrations(database.db);
  const tables = database.sqlite
    .query("select name from sqlite_master where type = 'table' order by name")
    .all() as { name: string }[];
  expect(tables.map((table) => table.name)).toContain("events");
  expect(tables.map((table) => table.name)).toContain("workflows");
  database.close();
});
