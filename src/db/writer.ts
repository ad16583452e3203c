/**
 * The single write path into SQLite, with group commit.
 *
 * `write(fn)` queues a synchronous unit of work; units queued in the same turn of the event
 * loop share one IMMEDIATE transaction and therefore one fsync (synchronous=FULL). Each unit
 * runs in its own SAVEPOINT, so one failing unit rolls back alone and rejects only its caller.
 * The returned promise resolves after COMMIT: a caller that awaited `write` owns a durable row.
 * The transaction and savepoints are plain prepared SQL statements on the one connection
 * (drizzle's nested transactions cost some 30 times more per unit); a unit's `tx` is that
 * connection, typed so that only code running inside a unit can hold one.
 *
 * `onCommit` callbacks run synchronously right after COMMIT, in queue order, before any other
 * code can run. The event log relies on this to fan rows out to live /events subscribers in
 * exactly the order they were committed (see src/http/events.ts).
 *
 * When another process holds the write lock (an operator's `sqlite3`, a restore gone wrong),
 * BEGIN fails fast (the connection's busy wait is short, src/db/client.ts) and the batch goes
 * back to the head of the queue, retried on a timer with backoff: the event loop stays free,
 * queued writes keep their order, and callers simply wait longer. `lockedSince` tells /healthz.
 */
import type { Logger } from "../log.ts";
import { type Db, isBusy } from "./client.ts";

/**
 * Units per transaction. Bounds how long one flush holds the event loop and how many rows one
 * tick fans out to live subscribers (whose sockets drain between ticks); the rest waits for
 * the next turn.
 */
const MAX_BATCH = 256;
/** Retry delays while another process holds the write lock. */
const LOCKED_RETRY_MIN_MS = 5;
const LOCKED_RETRY_MAX_MS = 250;
/** A lock held this long is worth a warning (a brief one is normal, e.g. a backup starting). */
const LOCKED_WARN_AFTER_MS = 1_000;

declare const insideWrite: unique symbol;
/** The connection while a writer transaction is open: only a unit of work receives one. */
export type Tx = Db & { readonly [insideWrite]: true };
type NotPromise<T> = T extends PromiseLike<unknown> ? never : T;
export type OnCommit = (callback: () => void) => void;

interface Unit {
  fn: (tx: Tx, onCommit: OnCommit) => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export class Writer {
  private queue: Unit[] = [];
  private scheduled = false;
  private retryDelayMs = LOCKED_RETRY_MIN_MS;
  private warnedLocked = false;
  /** Wall-clock ms since another process has held the write lock; undefined when it does not. */
  lockedSince: number | undefined;

  private readonly tx: Tx;
  private readonly sql: Record<
    "begin" | "commit" | "rollback" | "savepoint" | "release" | "rollbackTo",
    { run(): unknown }
  >;

  constructor(
    db: Db,
    // A failing onCommit callback must not stop the others or the resolution of the batch.
    private readonly onCallbackError: (error: unknown) => void = () => {},
    private readonly log?: Logger,
  ) {
    this.tx = db as Tx;
    const sqlite = db.$client;
    this.sql = {
      begin: sqlite.prepare("BEGIN IMMEDIATE"),
      commit: sqlite.prepare("COMMIT"),
      rollback: sqlite.prepare("ROLLBACK"),
      savepoint: sqlite.prepare("SAVEPOINT unit"),
      release: sqlite.prepare("RELEASE unit"),
      rollbackTo: sqlite.prepare("ROLLBACK TO unit"),
    };
  }

  write<T>(fn: (tx: Tx, onCommit: OnCommit) => NotPromise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.flushBatch());
    });
  }

  /**
   * Commits everything queued now; used at shutdown so nothing queued is dropped. Blocking is
   * fine here: it waits out another process's lock for up to `lockedWaitMs`, then rejects what
   * it could not commit (their callers see the error; nothing is half-written).
   */
  flush(lockedWaitMs = 2_000): void {
    const deadline = Date.now() + lockedWaitMs;
    while (this.queue.length > 0) {
      if (this.flushBatch()) continue;
      if (Date.now() < deadline) {
        Bun.sleepSync(LOCKED_RETRY_MAX_MS / 5);
        continue;
      }
      const error = new Error("writer: database locked by another process at shutdown");
      for (const unit of this.queue.splice(0)) unit.reject(error);
    }
  }

  /** Commits one batch; false when the write lock could not be had (the batch is requeued). */
  private flushBatch(): boolean {
    this.scheduled = false;
    const batch = this.queue.splice(0, MAX_BATCH);
    if (batch.length === 0) return true;
    const outcomes: { ok: boolean; value: unknown; callbacks: (() => void)[] }[] = [];
    try {
      this.sql.begin.run();
    } catch (error) {
      if (isBusy(error)) {
        // BEGIN IMMEDIATE found the lock taken: nothing ran, so the batch can simply wait.
        this.queue.unshift(...batch);
        this.retryLater();
        return false;
      }
      this.scheduleRest();
      for (const unit of batch) unit.reject(error);
      return true;
    }
    try {
      for (const unit of batch) {
        const callbacks: (() => void)[] = [];
        this.sql.savepoint.run();
        try {
          const value = unit.fn(this.tx, (cb) => callbacks.push(cb));
          this.sql.release.run();
          outcomes.push({ ok: true, value, callbacks });
        } catch (error) {
          this.sql.rollbackTo.run();
          this.sql.release.run();
          outcomes.push({ ok: false, value: error, callbacks: [] });
        }
      }
      this.sql.commit.run();
    } catch (error) {
      // COMMIT itself failed (disk full, I/O error): nothing in the batch is durable.
      this.rollbackQuietly();
      this.scheduleRest();
      for (const unit of batch) unit.reject(error);
      return true;
    }
    this.lockReleased();
    this.scheduleRest();
    batch.forEach((unit, i) => {
      const outcome = outcomes[i];
      if (!outcome?.ok) {
        unit.reject(outcome ? outcome.value : new Error("writer: unit has no outcome"));
        return;
      }
      for (const cb of outcome.callbacks) {
        try {
          cb();
        } catch (error) {
          this.onCallbackError(error);
        }
      }
      unit.resolve(outcome.value);
    });
    return true;
  }

  private rollbackQuietly(): void {
    try {
      this.sql.rollback.run();
    } catch {
      // SQLite may have rolled back already (it does on some I/O errors).
    }
  }

  private scheduleRest(): void {
    if (this.queue.length === 0 || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flushBatch());
  }

  private retryLater(): void {
    const now = Date.now();
    this.lockedSince ??= now;
    if (!this.warnedLocked && now - this.lockedSince >= LOCKED_WARN_AFTER_MS) {
      this.warnedLocked = true;
      this.log?.warn("db: database locked by another process; writes are waiting", {
        component: "db",
        queued: this.queue.length,
      });
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => this.flushBatch(), this.retryDelayMs);
    this.retryDelayMs = Math.min(LOCKED_RETRY_MAX_MS, this.retryDelayMs * 2);
  }

  private lockReleased(): void {
    if (this.lockedSince === undefined) return;
    if (this.warnedLocked) {
      this.log?.info("db: database lock released; writes resumed", {
        component: "db",
        waited_ms: Date.now() - this.lockedSince,
      });
    }
    this.lockedSince = undefined;
    this.warnedLocked = false;
    this.retryDelayMs = LOCKED_RETRY_MIN_MS;
  }
}
