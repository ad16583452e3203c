/**
 * GitHub webhook signatures: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>`,
 * computed over the exact bytes received (never over re-serialised JSON). Compared in constant
 * time, after a length check, because timingSafeEqual requires equal lengths.
 */

const HEADER = /^sha256=([0-9a-fA-F]{64})$/;

export function verifySignature(secret: string, body: Uint8Array, header: string | null): boolean {
  const match = header === null ? null : HEADER.exec(header.trim());
  const received = match?.[1];
  if (!received) return false;
  const expected = new Bun.CryptoHasher("sha256", secret).update(body).digest("hex");
  const a = Buffer.from(received.toLowerCase(), "utf8");
  const b = Buffer.from(expected, "utf8");
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}
