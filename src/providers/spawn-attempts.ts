/**
 * Owns `spawn_attempts`: the durable note, written before a create request goes to a CI, that a
 * build may exist for a workflow. Without it a crash right after the CI answered (and before the
 * provider stored the build) is indistinguishable from a build never asked for.
 */
import { and, eq, lt, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { pruneBatch } from "../db/prune-batch.ts";
import { spawnAttempts } from "../db/schema.ts";
import type { Tx, Writer } from "../db/writer.ts";
import type { WorkflowId } from "../pipeline/workflows.ts";

export class SpawnAttempts {
  constructor(
    private readonly db: Db,
    private readonly writer: Writer,
  ) {}

  /**
   * Durably records an attempt about to be sent; resolves with the time of the previous one
   * (Unix ms, tack's clock), or undefined when this is the workflow's first.
   */
  begin(provider: string, id: WorkflowId, now: number): Promise<number | undefined> {
    return this.writer.write((tx) => {
      const previous = tx
        .select({ at: spawnAttempts.lastAttemptAt })
        .from(spawnAttempts)
        .where(matches(provider, id))
        .get();
      tx.insert(spawnAttempts)
        .values({
          provider,
          knot: id.knot,
          pipelineRkey: id.pipelineRkey,
          workflow: id.name,
          attempts: 1,
          lastAttemptAt: now,
        })
        .onConflictDoUpdate({
          target: [
            spawnAttempts.provider,
            spawnAttempts.knot,
            spawnAttempts.pipelineRkey,
            spawnAttempts.workflow,
          ],
          set: { attempts: sql`${spawnAttempts.attempts} + 1`, lastAttemptAt: now },
        })
        .run();
      return previous?.at;
    });
  }

  /** How many attempts were recorded for the workflow (0 when none). */
  count(provider: string, id: WorkflowId): number {
    return (
      this.db
        .select({ attempts: spawnAttempts.attempts })
        .from(spawnAttempts)
        .where(matches(provider, id))
        .get()?.attempts ?? 0
    );
  }

  /** Retention: forgets up to `limit` attempts older than `cutoffMs`. */
  pruneBefore(tx: Tx, cutoffMs: number, limit: number): number {
    return pruneBatch(tx, spawnAttempts, lt(spawnAttempts.lastAttemptAt, cutoffMs), limit);
  }
}

function matches(provider: string, id: WorkflowId) {
  return and(
    eq(spawnAttempts.provider, provider),
    eq(spawnAttempts.knot, id.knot),
    eq(spawnAttempts.pipelineRkey, id.pipelineRkey),
    eq(spawnAttempts.workflow, id.name),
  );
}
