/**
 * The spindle's secrets key: 32 bytes that seal every repo secret at rest. From
 * TACK_SECRETS_KEY (base64 or hex) when the operator manages it, else from a key file beside the
 * database (`<db>.secrets-key`), created on first use with mode 0600. Keep the key file out of
 * backups of the database, or a stolen backup opens the secrets it holds.
 */

import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";

export const KEY_BYTES = 32;

export class SecretsKey {
  private key: Buffer | undefined;

  constructor(private readonly source: { configured?: Buffer; file: string }) {}

  /** The key; reads (or creates) the key file the first time it is needed. */
  get(): Buffer {
    this.key ??= this.source.configured ?? this.fromFile();
    return this.key;
  }

  private fromFile(): Buffer {
    const { file } = this.source;
    if (!existsSync(file)) {
      // wx: never overwrite a key another process just wrote; 0600: readable by tack alone.
      try {
        writeFileSync(
          file,
          `${Buffer.from(crypto.getRandomValues(new Uint8Array(KEY_BYTES))).toString("base64")}\n`,
          {
            mode: 0o600,
            flag: "wx",
          },
        );
      } catch (error) {
        if (!existsSync(file)) throw error;
      }
    }
    chmodSync(file, 0o600);
    const key = parseSecretsKey(readFileSync(file, "utf8").trim());
    if (!key) throw new Error(`secrets key file ${file} does not hold a 32-byte key`);
    return key;
  }
}

/** 32 bytes written as base64 (44 characters) or hex (64); undefined otherwise. */
export function parseSecretsKey(text: string): Buffer | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, "hex");
  if (/^[A-Za-z0-9+/]{43}=$/.test(text)) {
    const key = Buffer.from(text, "base64");
    return key.length === KEY_BYTES ? key : undefined;
  }
  return undefined;
}
