/**
 * One tack per database. The lock is an SQLite write lock (RESERVED) held for the life of the
 * process on a small companion database, `<db>.lock`: the kernel drops it when the process
 * dies, `kill -9` included, so there is never a stale lock to clean up. It does not touch the
 * main database, so `tack backup` reads it while tack runs.
 *
 * The holder commits its pid and role before taking the lock for good, so a second process
 * can read (readers are allowed under RESERVED) whom it collides with and say so in one line.
 */
import { Database } from "bun:sqlite";
import { StartupError } from "../startup-error.ts";
import { isBusy } from "./client.ts";

export interface InstanceLock {
  release(): void;
}

export interface LockHolder {
  pid: number;
  role: string;
  since: string;
}

/** Thrown when another process holds the lock; `holder` is who, when it could be read. */
export class DatabaseInUseError extends StartupError {
  constructor(
    readonly dbPath: string,
    readonly holder: LockHolder | undefined,
  ) {
    super(
      `database ${dbPath} is in use by another tack${
        holder ? ` (pid ${holder.pid}, ${holder.role} since ${holder.since})` : ""
      }; stop it first, or give this one its own TACK_DB_PATH`,
    );
  }
}

export function lockPath(dbPath: string): string {
  return `${dbPath}.lock`;
}

/** Takes the lock for `dbPath` or throws DatabaseInUseError; `role` says what we are doing. */
export function acquireInstanceLock(dbPath: string, role: string): InstanceLock {
  if (dbPath === ":memory:") return { release() {} };
  let lock: Database;
  try {
    lock = new Database(lockPath(dbPath), { create: true, strict: true });
    // Rollback journal, not WAL: a RESERVED lock then still lets others read the holder row.
    lock.run("PRAGMA journal_mode = DELETE");
    // The lock is the open transaction, not the row: nothing here needs to survive a power
    // loss, so commits skip the fsyncs (several per commit in this journal mode).
    lock.run("PRAGMA synchronous = OFF");
    // Long enough to ride out another process's brief read of the holder row, short enough
    // that a second instance gives up at once.
    lock.run("PRAGMA busy_timeout = 250");
    lock.run(
      "create table if not exists holder (id integer primary key check (id = 1), pid integer not null, role text not null, since text not null)",
    );
  } catch (error) {
    if (isBusy(error)) throw new DatabaseInUseError(dbPath, undefined);
    throw new StartupError(
      `cannot open database ${dbPath}: cannot create its lock file ${lockPath(dbPath)}: ${
        error instanceof Error ? error.message : String(error)
      } (does the directory exist, and may this user write it?)`,
      { cause: error },
    );
  }
  const me = { pid: process.pid, role, since: new Date().toISOString() };
  // Two processes starting at the same instant may both commit their row; whoever then holds
  // the lock with its own row in place wins, the other sees the lock taken and gives up.
  for (let attempt = 0; attempt < 5; attempt++) {
    if (!tryBegin(lock)) return refuse(lock, dbPath);
    lock
      .query("insert or replace into holder (id, pid, role, since) values (1, ?, ?, ?)")
      .run(me.pid, me.role, me.since);
    lock.run("COMMIT");
    if (!tryBegin(lock)) return refuse(lock, dbPath);
    if (readHolder(lock)?.pid === me.pid) {
      return {
        release() {
          lock.run("ROLLBACK");
          lock.close();
        },
      };
    }
    lock.run("ROLLBACK");
  }
  return refuse(lock, dbPath);
}

function tryBegin(lock: Database): boolean {
  try {
    lock.run("BEGIN IMMEDIATE");
    return true;
  } catch (error) {
    if (isBusy(error)) return false;
    throw error;
  }
}

function readHolder(lock: Database): LockHolder | undefined {
  try {
    return (lock.query("select pid, role, since from holder where id = 1").get() ?? undefined) as
      | LockHolder
      | undefined;
  } catch {
    return undefined;
  }
}

function refuse(lock: Database, dbPath: string): never {
  const holder = readHolder(lock);
  lock.close();
  throw new DatabaseInUseError(dbPath, holder?.pid === process.pid ? undefined : holder);
}
