/**
 * Opens the one SQLite database tack owns. One writer connection per process: bun:sqlite is
 * synchronous, so a long write would block the event loop for everyone; keep transactions short.
 */
import { Database } from "bun:sqlite";
import { drizzle } from "drizzle-orm/bun-sqlite";
import * as schema from "./schema.ts";

export type Db = ReturnType<typeof drizzle<typeof schema>>;

export interface OpenDb {
  sqlite: Database;
  db: Db;
  close(): void;
}

export function openDb(path: string): OpenDb {
  // safeIntegers: Unix-ns cursors exceed 2^53 and must not be rounded (docs/design.md, *Cursors are
  // nanoseconds*).
  const sqlite = new Database(path, { create: true, strict: true, safeIntegers: true });
  // WAL lets /events readers scan while a webhook commits. synchronous=FULL fsyncs every
  // commit: a status we acknowledged (webhook 200, publish returned) must survive power loss,
  // not only a crash; group commit (src/db/writer.ts) keeps the fsync cost per batch.
  // These pragmas are per connection (journal_mode persists), so set them on every open.
  sqlite.run("PRAGMA journal_mode = WAL");
  sqlite.run("PRAGMA synchronous = FULL");
  sqlite.run("PRAGMA busy_timeout = 5000");
  sqlite.run("PRAGMA foreign_keys = ON");
  const db = drizzle({ client: withStatementCache(sqlite), schema });
  let closed = false;
  return {
    sqlite,
    db,
    close() {
      if (closed) return;
      closed = true;
      // Fold the WAL back into the main file so a copied tack.db is complete on its own.
      if (path !== ":memory:") sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)");
      sqlite.close();
    },
  };
}

/**
 * drizzle's bun-sqlite driver prepares a fresh statement for every query it runs, and SQLite's
 * prepare dominated the CPU profile of webhook ingest. bun:sqlite's `query()` returns the same
 * compiled statement for the same SQL text; drizzle binds parameters on every call and never
 * finalizes statements, so handing it the cached ones is safe. Our SQL texts are a small,
 * fixed set (values are always bound parameters), so the cache stays small.
 */
function withStatementCache(sqlite: Database): Database {
  return new Proxy(sqlite, {
    get(target, property) {
      if (property === "prepare") return (sql: string) => target.query(sql);
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
