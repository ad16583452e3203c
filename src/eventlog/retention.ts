/**
 * Bounded disk use (TACK_EVENTS_RETENTION): periodically deletes event rows and other
 * bookkeeping older than the retention period, in small batches, each its own short
 * transaction with the event loop free in between, so requests never wait behind a prune.
 * Each table's owner supplies its own `prune` (see EventStore.pruneBefore); the latest status
 * of every workflow is never pruned.
 */
import type { Clock } from "../clock.ts";
import type { Tx, Writer } from "../db/writer.ts";
import type { Logger } from "../log.ts";

export interface Prunable {
  name: string;
  /** Deletes up to `limit` rows older than `cutoffMs` (Unix ms) inside `tx`; returns the count. */
  prune(tx: Tx, cutoffMs: number, limit: number): number;
}

const BATCH = 1_000;
const EVERY_MS = 60 * 60 * 1000;

export class Retention {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<Record<string, number>> | undefined;
  private stopped = false;

  constructor(
    private readonly deps: {
      writer: Writer;
      retentionMs: number;
      prunables: Prunable[];
      clock: Clock;
      log: Logger;
    },
  ) {}

  /** Prunes soon after start, then hourly. A retention of 0 keeps everything. */
  start(firstDelayMs = 60_000): void {
    if (this.deps.retentionMs <= 0) return;
    const tick = async () => {
      await this.runOnce();
      if (!this.stopped) this.timer = setTimeout(tick, EVERY_MS);
    };
    this.timer = setTimeout(tick, firstDelayMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One full pass; returns rows deleted per table. */
  runOnce(): Promise<Record<string, number>> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<Record<string, number>> {
    const cutoffMs = this.deps.clock.now() - this.deps.retentionMs;
    const deleted: Record<string, number> = {};
    for (const table of this.deps.prunables) {
      deleted[table.name] = 0;
      for (;;) {
        if (this.stopped) return deleted;
        const count = await this.deps.writer.write((tx) => table.prune(tx, cutoffMs, BATCH));
        deleted[table.name] = (deleted[table.name] ?? 0) + count;
        if (count < BATCH) break;
      }
    }
    if (Object.values(deleted).some((n) => n > 0)) this.deps.log.info("retention: pruned", deleted);
    return deleted;
  }
}
