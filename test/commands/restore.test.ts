/**
 * `tack backup` and `tack restore` (#15, defects 3 and 9): private, atomic backups; a restore
 * that refuses while tack runs, checks the backup first, keeps the database's owner and mode,
 * and keeps what it replaced.
 */
import { Database } from "bun:sqlite";
import { expect, setDefaultTimeout, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { runBackup } from "../../src/commands/backup.ts";
import { runRestore } from "../../src/commands/restore.ts";
import { BINARY_SCHEMA_VERSION } from "../../src/db/migrate.ts";
import { startTestTack, tempDir } from "../helpers/tack.ts";

setDefaultTimeout(30_000);

const ID = { knot: "knot.test", pipelineRkey: "3m6mxh2znw222", name: "ci.yml" };
const INIT = { provider: "fake", options: {}, context: {} };

function capture() {
  const lines: string[] = [];
  return { lines, out: (line: string) => lines.push(line) };
}

/** A stopped service's directory whose database holds one workflow, and a backup of it. */
async function databaseWithBackup() {
  const dir = tempDir();
  {
    await using service = await startTestTack({ dir });
    await service.tack.workflows.create(ID, INIT, "pending");
  }
  const backup = join(tempDir(), "backups", "nested", "tack-backup.db");
  const { out } = capture();
  expect(runBackup(join(dir, "tack.db"), backup, out)).toBe(0);
  return { dir, db: join(dir, "tack.db"), backup };
}

test("a backup is 0600 in a 0700 directory it creates, and leaves no partial file (#15)", async () => {
  const { backup } = await databaseWithBackup();
  expect(statSync(backup).mode & 0o777).toBe(0o600);
  expect(statSync(join(backup, "..")).mode & 0o777).toBe(0o700);
  expect(readdirSync(join(backup, ".."))).toEqual(["tack-backup.db"]);
});

test("restore refuses while tack runs on the database, and changes nothing (#15)", async () => {
  const { dir, db, backup } = await databaseWithBackup();
  await using service = await startTestTack({ dir });
  const before = readFileSync(db);
  const { lines, out } = capture();
  expect(runRestore(db, backup, out)).toBe(1);
  expect(lines[0]).toStartWith(`tack restore: database ${db} is in use by another tack`);
  expect(lines[0]).toEndWith("nothing was changed");
  expect(readFileSync(db).equals(before)).toBe(true);
  expect(service.tack.workflows.get(ID)?.status).toBe("pending");
});

test("restore keeps the database's owner and mode, keeps the replaced file, and tack starts on the result (#15)", async () => {
  const { dir, db, backup } = await databaseWithBackup();
  // What the service's user left: a database it owns, with a later workflow the backup lacks.
  {
    await using service = await startTestTack({ dir });
    await service.tack.workflows.create({ ...ID, name: "later.yml" }, INIT, "pending");
  }
  const root = process.getuid?.() === 0;
  if (root) chownSync(db, 4242, 4243);
  chmodSync(db, 0o640);

  const { lines, out } = capture();
  const at = new Date("2026-01-31T12:00:00.000Z");
  expect(runRestore(db, backup, out, () => at)).toBe(0);
  const kept = `${db}.before-restore-2026-01-31T12-00-00-000Z`;
  expect(lines[0]).toStartWith(
    `tack restore: restored ${db} from ${backup} (schema version ${BINARY_SCHEMA_VERSION}`,
  );
  expect(lines[0]).toEndWith(`the previous database is kept as ${kept}`);
  const stat = statSync(db);
  expect(stat.mode & 0o777).toBe(0o640);
  if (root) expect([stat.uid, stat.gid]).toEqual([4242, 4243]);
  expect(existsSync(`${db}-wal`)).toBe(false);
  expect(existsSync(kept)).toBe(true);

  await using service = await startTestTack({ dir });
  expect(service.tack.workflows.get(ID)?.status).toBe("pending");
  expect(service.tack.workflows.get({ ...ID, name: "later.yml" })).toBeUndefined();
});

test("restore checks the backup first: a damaged file, a non-tack database, a newer schema (#15)", async () => {
  const { db, backup } = await databaseWithBackup();
  const before = readFileSync(db);
  const attempt = (file: string) => {
    const { lines, out } = capture();
    return { code: runRestore(db, file, out), line: lines[0] ?? "" };
  };

  const damaged = join(tempDir(), "damaged.db");
  copyFileSync(backup, damaged);
  const bytes = readFileSync(damaged);
  const pageSize = bytes.readUInt16BE(16);
  bytes.fill(0x5a, pageSize * 2, pageSize * 3); // scribble over a whole b-tree page
  writeFileSync(damaged, bytes);
  const bad = attempt(damaged);
  expect(bad.code).toBe(1);
  expect(bad.line).toMatch(
    /^tack restore: .*damaged\.db (fails SQLite's integrity check|cannot be read as a database)/,
  );

  const other = join(tempDir(), "other.db");
  new Database(other).run("create table notes (body text)");
  expect(attempt(other)).toEqual({
    code: 1,
    line: `tack restore: ${other} is not a tack database (it has no migrations table); nothing was changed`,
  });

  const newer = join(tempDir(), "newer.db");
  copyFileSync(backup, newer);
  const stamp = new Database(newer);
  stamp.run(
    "insert into __drizzle_migrations (hash, created_at) values ('future', 99999999999999)",
  );
  stamp.close();
  expect(attempt(newer).line).toBe(
    `tack restore: ${newer} has schema version ${BINARY_SCHEMA_VERSION + 1}, newer than this tack's ${BINARY_SCHEMA_VERSION} (restore it with the newer tack); nothing was changed`,
  );

  expect(attempt(join(tempDir(), "absent.db")).code).toBe(1);
  expect(readFileSync(db).equals(before)).toBe(true);
});
