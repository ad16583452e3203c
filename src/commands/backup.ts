/**
 * `tack backup <file>`: a consistent copy of the live database, taken while the service runs.
 * `VACUUM INTO` reads one WAL snapshot through its own read-only connection, so the copy is a
 * single point in time and the service keeps writing meanwhile. The copy is compact and
 * self-contained (no -wal file); `tack restore <file>` puts it back.
 *
 * The copy holds everything tack knows (secrets included), so it is created 0600 and its
 * directory, when missing, 0700. It is written under a temporary name and renamed into place,
 * so an interrupted backup never leaves a truncated file under the name a restore would use.
 */
import { Database } from "bun:sqlite";
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { dirname } from "node:path";

export function runBackup(
  dbPath: string,
  target: string | undefined,
  out: (line: string) => void,
): number {
  if (!target) {
    out(
      "tack backup: name the file to write, e.g. tack backup /var/backups/tack/tack-$(date +%F).db",
    );
    return 2;
  }
  if (!existsSync(dbPath)) {
    out(
      `tack backup: no database at ${dbPath} (set TACK_DB_PATH, e.g. TACK_DB_PATH=/var/lib/tack/tack.db)`,
    );
    return 1;
  }
  if (existsSync(target)) {
    out(`tack backup: ${target} already exists; refusing to overwrite it`);
    return 1;
  }
  const partial = `${target}.partial-${process.pid}`;
  let source: Database | undefined;
  try {
    mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
    // VACUUM INTO accepts an existing empty file: creating it first fixes its mode to 0600
    // whatever the umask.
    closeSync(openSync(partial, "wx", 0o600));
    chmodSync(partial, 0o600);
    source = new Database(dbPath, { readonly: true });
    source.run("PRAGMA busy_timeout = 5000");
    source.run("VACUUM INTO ?", [partial]);
    syncFile(partial);
    renameSync(partial, target);
  } catch (error) {
    rmSync(partial, { force: true });
    out(`tack backup: failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    source?.close();
    keepSidecarsOwned(dbPath);
  }
  out(`tack backup: wrote ${target} (${statSync(target).size} bytes) from ${dbPath}`);
  return 0;
}

/** Flushes a file to disk, so a rename after it never publishes an empty or partial file. */
export function syncFile(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reading a WAL database can create its -wal and -shm files. Run as root (a backup timer, a
 * pre-flight check) beside a service running as its own user, they would be root's, and the
 * service could no longer open its database: give them the database's owner.
 */
export function keepSidecarsOwned(dbPath: string): void {
  try {
    const owner = statSync(dbPath);
    for (const suffix of ["-wal", "-shm"]) {
      const path = `${dbPath}${suffix}`;
      if (!existsSync(path)) continue;
      const stat = statSync(path);
      if (stat.uid !== owner.uid || stat.gid !== owner.gid) chownSync(path, owner.uid, owner.gid);
    }
  } catch {
    // Best effort: without permission to chown we did not create them either.
  }
}
