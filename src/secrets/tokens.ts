/**
 * Owns the `secret_tokens` table: one-time tokens that let one workflow's build fetch its
 * repo's secrets. A token is random (32 bytes), handed to the build (as TACK_SECRETS_TOKEN)
 * and kept here only as its SHA-256. It is good for one fetch, for one workflow, until that
 * workflow ends or an hour passes, whichever comes first; its use is committed before the
 * secrets are sent, so a token can never be used twice, even across a crash.
 */
import { createHash, randomBytes } from "node:crypto";
import { eq, lt } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { secretTokens } from "../db/schema.ts";
import type { Tx, Writer } from "../db/writer.ts";

export const TOKEN_TTL_MS = 60 * 60_000;

export interface TokenGrant {
  knot: string;
  pipelineRkey: string;
  workflow: string;
  repoDid: string;
}

export class SecretTokens {
  constructor(
    private readonly db: Db,
    private readonly writer: Writer,
  ) {}

  /** A new token for the workflow; only its hash is stored. */
  async mint(grant: TokenGrant, now: number): Promise<string> {
    const token = randomBytes(32).toString("base64url");
    await this.writer.write((tx) =>
      tx
        .insert(secretTokens)
        .values({ tokenHash: hash(token), ...grant, expiresAt: now + TOKEN_TTL_MS })
        .run(),
    );
    return token;
  }

  /**
   * Uses the token up and returns what it grants, or undefined when it is unknown, used,
   * expired, or `stillRunning` says its workflow has ended.
   */
  redeem(
    token: string,
    now: number,
    stillRunning: (grant: TokenGrant) => boolean,
  ): Promise<TokenGrant | undefined> {
    // Most guesses are unknown tokens: a read answers them without queueing a write.
    const known = this.db
      .select({ tokenHash: secretTokens.tokenHash })
      .from(secretTokens)
      .where(eq(secretTokens.tokenHash, hash(token)))
      .get();
    if (!known) return Promise.resolve(undefined);
    return this.writer.write((tx) => {
      const row = tx
        .select()
        .from(secretTokens)
        .where(eq(secretTokens.tokenHash, hash(token)))
        .get();
      if (!row || row.usedAt !== null || row.expiresAt <= now || !stillRunning(row)) {
        return undefined;
      }
      tx.update(secretTokens)
        .set({ usedAt: now })
        .where(eq(secretTokens.tokenHash, row.tokenHash))
        .run();
      return {
        knot: row.knot,
        pipelineRkey: row.pipelineRkey,
        workflow: row.workflow,
        repoDid: row.repoDid,
      };
    });
  }

  /** Forgets up to `limit` tokens that expired before `cutoffMs`. */
  pruneBefore(tx: Tx, cutoffMs: number, limit: number): number {
    const expired = tx
      .select({ tokenHash: secretTokens.tokenHash })
      .from(secretTokens)
      .where(lt(secretTokens.expiresAt, cutoffMs))
      .limit(limit)
      .all();
    for (const row of expired) {
      tx.delete(secretTokens).where(eq(secretTokens.tokenHash, row.tokenHash)).run();
    }
    return expired.length;
  }
}

function hash(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}
