/**
 * Owns the `secrets` table: a repo's CI secrets, sealed at rest with AES-256-GCM under the
 * spindle's secrets key. Each value is bound to its repo and key (the GCM additional data), so
 * a sealed value copied to another row does not open. Values leave this module only through
 * `valuesFor`, for a build that presented a valid one-time token; listing returns keys and
 * metadata, never values.
 */
import { and, asc, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { secrets } from "../db/schema.ts";
import type { Writer } from "../db/writer.ts";
import { nodeCrypto } from "../lazy-node.ts";
import type { SecretsKey } from "./key.ts";

/** Keys are shell variable names: they become `export KEY=…` lines in a build. */
export const SECRET_KEY_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
export const MAX_KEY_LENGTH = 50;
/** Large enough for a private key or a certificate. */
export const MAX_VALUE_BYTES = 64 * 1024;

export interface SecretEntry {
  repoDid: string;
  key: string;
  createdAt: string;
  createdBy: string;
}

export class Secrets {
  constructor(
    private readonly db: Db,
    private readonly writer: Writer,
    private readonly key: SecretsKey,
  ) {}

  /** Adds a secret; false (changing nothing) when the repo already has that key. */
  add(entry: SecretEntry, value: string): Promise<boolean> {
    const sealed = this.seal(entry.repoDid, entry.key, value);
    return this.writer.write((tx) => {
      const inserted = tx
        .insert(secrets)
        .values({ ...entry, sealed })
        .onConflictDoNothing()
        .returning({ key: secrets.key })
        .all();
      return inserted.length === 1;
    });
  }

  /** Removes a secret; false when the repo has no such key. */
  remove(repoDid: string, key: string): Promise<boolean> {
    return this.writer.write(
      (tx) =>
        tx
          .delete(secrets)
          .where(and(eq(secrets.repoDid, repoDid), eq(secrets.key, key)))
          .returning({ key: secrets.key })
          .all().length === 1,
    );
  }

  /** The repo's secrets without their values, by key. */
  list(repoDid: string): SecretEntry[] {
    return this.db
      .select({
        repoDid: secrets.repoDid,
        key: secrets.key,
        createdAt: secrets.createdAt,
        createdBy: secrets.createdBy,
      })
      .from(secrets)
      .where(eq(secrets.repoDid, repoDid))
      .orderBy(asc(secrets.key))
      .all();
  }

  /** The repo's secrets with their values, by key: for a build, nothing else. */
  valuesFor(repoDid: string): { key: string; value: string }[] {
    return this.db
      .select({ key: secrets.key, sealed: secrets.sealed })
      .from(secrets)
      .where(eq(secrets.repoDid, repoDid))
      .orderBy(asc(secrets.key))
      .all()
      .map((row) => ({ key: row.key, value: this.open(repoDid, row.key, row.sealed) }));
  }

  private seal(repoDid: string, key: string, value: string): Buffer {
    const nonce = Buffer.from(crypto.getRandomValues(new Uint8Array(12)));
    const cipher = nodeCrypto().createCipheriv("aes-256-gcm", this.key.get(), nonce);
    cipher.setAAD(Buffer.from(`${repoDid}\u0000${key}`));
    const body = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
    return Buffer.concat([nonce, body, cipher.getAuthTag()]);
  }

  private open(repoDid: string, key: string, sealed: Buffer): string {
    const decipher = nodeCrypto().createDecipheriv(
      "aes-256-gcm",
      this.key.get(),
      sealed.subarray(0, 12),
    );
    decipher.setAAD(Buffer.from(`${repoDid}\u0000${key}`));
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    return Buffer.concat([
      decipher.update(sealed.subarray(12, sealed.length - 16)),
      decipher.final(),
    ]).toString("utf8");
  }
}
