/**
 * `tack backup <file>`: a consistent copy of the live database, taken while the service runs.
 * `VACUUM INTO` reads one WAL snapshot through its own read-only connection, so the copy is a
 * single point in time and the service keeps writing meanwhile. The copy is compact and
 * self-contained (no -wal file); restore by stopping tack and putting it at TACK_DB_PATH.
 */
import { Database } from "bun:sqlite";
import { existsSync, statSync } from "node:fs";

export function runBackup(
  dbPath: string,
  target: string | undefined,
  out: (line: string) => void,
): number {
  if (!target) {
    out("tack backup: name the file to write, e.g. tack backup /var/backups/tack-$(date +%F).db");
    return 2;
  }
  if (!existsSync(dbPath)) {
    out(`tack backup: no database at ${dbPath} (set TACK_DB_PATH)`);
    return 1;
  }
  if (existsSync(target)) {
    out(`tack backup: ${target} already exists; refusing to overwrite it`);
    return 1;
  }
  const source = new Database(dbPath, { readonly: true });
  try {
    source.run("PRAGMA busy_timeout = 5000");
    source.run("VACUUM INTO ?", [target]);
  } catch (error) {
    out(`tack backup: failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    source.close();
  }
  out(`tack backup: wrote ${target} (${statSync(target).size} bytes) from ${dbPath}`);
  return 0;
}
