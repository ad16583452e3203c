/**
 * `tack restore <backup>`: puts a backup (from `tack backup`) back at TACK_DB_PATH.
 *
 * - Refuses while tack runs on that database: it takes the same lock a running tack holds
 *   (src/db/instance-lock.ts), and keeps it until done, so tack cannot start half-way.
 * - Checks the backup first: SQLite's integrity check, that it is a tack database, and that
 *   its schema is not newer than this binary's. A bad backup changes nothing.
 * - Keeps the database's owner, group and mode. Restoring as root over a database owned by the
 *   service's (dynamic) user must not leave a file the service cannot write.
 * - Keeps the database it replaces, renamed `<db>.before-restore-<time>` (with its -wal), so
 *   a restore can itself be undone.
 * - Writes the new file beside the database, flushes it, then renames it into place.
 */
import { Database } from "bun:sqlite";
import { chmodSync, chownSync, existsSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { acquireInstanceLock } from "../db/instance-lock.ts";
import { BINARY_SCHEMA_VERSION, schemaState } from "../db/migrate.ts";
import { StartupError } from "../startup-error.ts";
import { syncFile } from "./backup.ts";

export function runRestore(
  dbPath: string,
  backup: string | undefined,
  out: (line: string) => void,
  clock: () => Date = () => new Date(),
): number {
  if (!backup) {
    out(
      "tack restore: name the backup to restore, e.g. tack restore /var/backups/tack/tack-2026-01-31.db",
    );
    return 2;
  }
  if (!existsSync(backup)) {
    out(`tack restore: no file at ${backup}`);
    return 1;
  }
  const problem = checkBackup(backup);
  if (problem) {
    out(`tack restore: ${backup} ${problem}; nothing was changed`);
    return 1;
  }
  if (!existsSync(dirname(dbPath))) {
    out(`tack restore: directory ${dirname(dbPath)} does not exist (is TACK_DB_PATH right?)`);
    return 1;
  }

  let lock: ReturnType<typeof acquireInstanceLock>;
  try {
    lock = acquireInstanceLock(dbPath, "restoring");
  } catch (error) {
    out(
      `tack restore: ${error instanceof StartupError ? error.message : String(error)}; nothing was changed`,
    );
    return 1;
  }
  const incoming = `${dbPath}.restoring-${process.pid}`;
  try {
    // The owner and mode to keep: the current database's, or else its directory's (the
    // service's StateDirectory) with 0600.
    const current = existsSync(dbPath) ? statSync(dbPath) : undefined;
    const owner = current ?? statSync(dirname(dbPath));
    const mode = current ? current.mode & 0o777 : 0o600;

    rmSync(incoming, { force: true });
    const source = new Database(backup, { readonly: true });
    try {
      source.run("VACUUM INTO ?", [incoming]);
    } finally {
      source.close();
    }
    chmodSync(incoming, mode);
    chownSync(incoming, owner.uid, owner.gid);
    syncFile(incoming);

    let keptAs: string | undefined;
    if (current) {
      keptAs = `${dbPath}.before-restore-${clock().toISOString().replace(/[:.]/g, "-")}`;
      renameSync(dbPath, keptAs);
      if (existsSync(`${dbPath}-wal`)) renameSync(`${dbPath}-wal`, `${keptAs}-wal`);
    }
    // A -shm left from the old database must not be paired with the new file.
    rmSync(`${dbPath}-shm`, { force: true });
    rmSync(`${dbPath}-wal`, { force: true });
    renameSync(incoming, dbPath);
    syncFile(dirname(dbPath));
    out(
      `tack restore: restored ${dbPath} from ${backup} (schema version ${schemaOf(dbPath)}, owner ${owner.uid}:${owner.gid}, mode ${mode.toString(8).padStart(4, "0")})${
        keptAs ? `; the previous database is kept as ${keptAs}` : ""
      }`,
    );
    return 0;
  } catch (error) {
    rmSync(incoming, { force: true });
    out(`tack restore: failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    lock.release();
  }
}

/** Why `path` is not a backup tack can restore, or undefined when it is. */
function checkBackup(path: string): string | undefined {
  let db: Database | undefined;
  try {
    db = new Database(path, { readonly: true });
    const integrity = db.query("PRAGMA integrity_check").all() as { integrity_check: string }[];
    if (integrity[0]?.integrity_check !== "ok") {
      return `fails SQLite's integrity check (${integrity
        .slice(0, 3)
        .map((row) => row.integrity_check)
        .join("; ")})`;
    }
    const state = schemaState(db);
    if (state.version === 0) return "is not a tack database (it has no migrations table)";
    if (state.newer) {
      return `has schema version ${state.version}, newer than this tack's ${BINARY_SCHEMA_VERSION} (restore it with the newer tack)`;
    }
    return undefined;
  } catch (error) {
    return `cannot be read as a database (${error instanceof Error ? error.message : String(error)})`;
  } finally {
    db?.close();
  }
}

function schemaOf(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return schemaState(db).version;
  } finally {
    db.close();
  }
}
