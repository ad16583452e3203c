/**
 * The single write path into SQLite, with group commit.
 *
 * `write(fn)` queues a synchronous unit of work; units queued in the same turn of the event
 * loop share one IMMEDIATE transaction and therefore one fsync (synchronous=FULL). Each unit
 * runs in its own SAVEPOINT, so one failing unit rolls back alone and rejects only its caller.
 * The returned promise resolves after COMMIT: a caller that awaited `write` owns a durable row.
 *
 * `onCommit` callbacks run synchronously right after COMMIT, in queue order, before any other
 * code can run. The event log relies on this to fan rows out to live /events subscribers in
 * exactly the order they were committed (see src/http/events.ts).
 */
import type { Db } from "./client.ts";

/**
 * Units per transaction. Bounds how long one flush holds the event loop and how many rows one
 * tick fans out to live subscribers (whose sockets drain between ticks); the rest waits for
 * the next turn.
 */
const MAX_BATCH = 256;

export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
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

  constructor(
    private readonly db: Db,
    // A failing onCommit callback must not stop the others or the resolution of the batch.
    private readonly onCallbackError: (error: unknown) => void = () => {},
  ) {}

  write<T>(fn: (tx: Tx, onCommit: OnCommit) => NotPromise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.flushBatch());
    });
  }

  /** Commits everything queued now; used at shutdown so nothing queued is dropped. */
  flush(): void {
    while (this.queue.length > 0) this.flushBatch();
  }

  private flushBatch(): void {
    this.scheduled = false;
    const batch = this.queue.splice(0, MAX_BATCH);
    if (batch.length === 0) return;
    if (this.queue.length > 0) {
      this.scheduled = true;
      setImmediate(() => this.flushBatch());
    }
    const outcomes: { ok: boolean; value: unknown; callbacks: (() => void)[] }[] = [];
    try {
      this.db.transaction(
        (tx) => {
          for (const unit of batch) {
            const callbacks: (() => void)[] = [];
            try {
              const value = tx.transaction((inner) => unit.fn(inner, (cb) => callbacks.push(cb)));
              outcomes.push({ ok: true, value, callbacks });
            } catch (error) {
              outcomes.push({ ok: false, value: error, callbacks: [] });
            }
          }
        },
        { behavior: "immediate" },
      );
    } catch (error) {
      // COMMIT itself failed (disk full, I/O error): nothing in the batch is durable.
      for (const unit of batch) unit.reject(error);
      return;
    }
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
  }
}
