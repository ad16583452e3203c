/**
 * Opens the one SQLite database tack owns. One writer connection per process: bun:sqlite is
 * synchronous, so a long write would block the event loop for everyone; keep transactions short.
 *
 * SQLite's busy handler sleeps on the calling thread, which here is the event loop. While
 * starting (migrations, nothing served yet) waiting up to 5 s for another process's lock is
 * right; once serving, `limitBusyWait()` shortens it so a lock held elsewhere (an operator's
 * `sqlite3` session, a backup) never freezes requests: the writer retries asynchronously
 * instead (src/db/writer.ts).
 */
import { Database } from "bun:sqlite";
import { drizzle } from "drizzle-orm/bun-sqlite";
import { StartupError } from "../startup-error.ts";
import * as schema from "./schema.ts";

export type Db = ReturnType<typeof drizzle<typeof schema>>;

/** Longest the event loop may sleep on another process's lock while serving. */
export const SERVING_BUSY_TIMEOUT_MS = 20;

/** SQLite's page cache for the connection, in KiB (see openDb). */
const PAGE_CACHE_KIB = 16 * 1024;

export interface OpenDb {
  sqlite: Database;
  db: Db;
  /** Switches to the short busy wait used while serving. */
  limitBusyWait(): void;
  close(): void;
}

export function openDb(path: string): OpenDb {
  let sqlite: Database;
  try {
    // safeIntegers: Unix-ns cursors exceed 2^53 and must not be rounded (docs/design.md,
    // *Cursors are nanoseconds*).
    sqlite = new Database(path, { create: true, strict: true, safeIntegers: true });
    // WAL lets /events readers scan while a webhook commits. synchronous=FULL fsyncs every
    // commit: a status we acknowledged (webhook 200, publish returned) must survive power loss,
    // not only a crash; group commit (src/db/writer.ts) keeps the fsync cost per batch.
    // These pragmas are per connection (journal_mode persists), so set them on every open.
    sqlite.run("PRAGMA busy_timeout = 5000");
    sqlite.run("PRAGMA journal_mode = WAL");
    sqlite.run("PRAGMA synchronous = FULL");
    sqlite.run("PRAGMA foreign_keys = ON");
    // Each unit of the writer runs in a savepoint, and SQLite keeps what a savepoint would undo
    // in a statement journal: in a temporary file by default, two writes per page each unit
    // touches (three quarters of the system calls a webhook cost). In memory it is a copy per
    // page, freed when the unit ends. SQLite's other temporary storage (the sort of a
    // migration's index build, a query without an index) then stays in memory too: tack's are
    // one-off or small.
    sqlite.run("PRAGMA temp_store = MEMORY");
    // SQLite's default page cache (2 MiB) cannot hold the interior pages of a large log's
    // indexes: a retention batch at a million pipelines re-read them from the file for every
    // row it deleted, twice the time of the same batch at ten thousand. At 16 MiB the batch
    // costs the same at both sizes (docs/performance.md). It fills as pages are read: idle
    // memory is unchanged, a busy tack's grows by up to this much.
    sqlite.run(`PRAGMA cache_size = -${PAGE_CACHE_KIB}`);
  } catch (error) {
    throw new StartupError(`cannot open database ${path}: ${reason(error)}`, { cause: error });
  }
  const db = drizzle({ client: withStatementCache(sqlite), schema });
  let closed = false;
  return {
    sqlite,
    db,
    limitBusyWait() {
      sqlite.run(`PRAGMA busy_timeout = ${SERVING_BUSY_TIMEOUT_MS}`);
    },
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
 * Runs `read` in one read transaction. Outside a transaction every statement is a transaction
 * of its own, and in WAL mode each one takes and drops the database's shared lock (system calls
 * that cost more than an indexed lookup on a virtual machine): a request that looks up three
 * rows pays for that once instead of three times, and sees them in one snapshot.
 */
export function readTogether<T>(db: Db, read: () => T): T {
  const sqlite = db.$client;
  if (sqlite.inTransaction) return read();
  sqlite.query("BEGIN DEFERRED").run();
  try {
    return read();
  } finally {
    sqlite.query("COMMIT").run();
  }
}

/** True for SQLite's "database is locked" (another connection holds the lock we need). */
export function isBusy(error: unknown): boolean {
  return error instanceof Error && "code" in error && /^SQLITE_BUSY/.test(String(error.code ?? ""));
}

function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // bun:sqlite says "unable to open database file"; name the usual causes.
  return /unable to open/.test(message)
    ? `${message} (does the directory exist, and may this user write it?)`
    : message;
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
