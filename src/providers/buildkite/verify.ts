/**
 * Authenticates a Buildkite webhook against TACK_BUILDKITE_WEBHOOK_SECRET.
 *
 * - token mode: `X-Buildkite-Token` carries the secret itself; compared in constant time (both
 *   sides are hashed first, so not even the length leaks).
 * - signature mode: `X-Buildkite-Signature: timestamp=<unix s>,signature=<hex>`, the hex
 *   HMAC-SHA256 of `<timestamp>.<raw body>`. A timestamp more than five minutes from our clock
 *   (either way) is refused: it bounds how long a captured delivery can be replayed; replays
 *   inside the window are caught by the delivery key (webhook.ts).
 *
 * The reason for a refusal is for our log only; the sender gets a bare 401.
 */

/** Buildkite's own suggestion for the accepted clock difference. */
export const MAX_SIGNATURE_AGE_S = 300;

export type Verdict = { ok: true } | { ok: false; reason: string };

export function verifyDelivery(
  secret: { webhookSecret: string; webhookMode: "token" | "signature" },
  headers: Headers,
  body: Uint8Array,
  nowMs: number,
): Verdict {
  const verdict =
    secret.webhookMode === "token"
      ? verifyToken(secret.webhookSecret, headers.get("x-buildkite-token"))
      : verifySignature(secret.webhookSecret, headers.get("x-buildkite-signature"), body, nowMs);
  return verdict ? { ok: false, reason: verdict } : { ok: true };
}

/** Returns why the token does not match, or undefined when it does. */
function verifyToken(secret: string, token: string | null): string | undefined {
  if (token === null) return "no X-Buildkite-Token header (is the webhook in token mode?)";
  const expected = sha256(new TextEncoder().encode(secret));
  const given = sha256(new TextEncoder().encode(token));
  return crypto.timingSafeEqual(expected, given) ? undefined : "X-Buildkite-Token does not match";
}

/** Returns why the signature is not acceptable, or undefined when it is. */
function verifySignature(
  secret: string,
  header: string | null,
  body: Uint8Array,
  nowMs: number,
): string | undefined {
  if (header === null) return "no X-Buildkite-Signature header (is the webhook in signature mode?)";
  const fields = parseSignatureHeader(header);
  const timestamp = fields.get("timestamp");
  const signature = fields.get("signature");
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) return "signature header has no valid timestamp";
  if (!signature || !/^[0-9a-fA-F]{64}$/.test(signature)) {
    return "signature header has no valid signature";
  }
  const skew = Math.abs(nowMs / 1000 - Number(timestamp));
  if (skew > MAX_SIGNATURE_AGE_S) {
    return `signature timestamp is ${Math.round(skew)} s away from our clock (limit ${MAX_SIGNATURE_AGE_S} s)`;
  }
  const expected = new Bun.CryptoHasher("sha256", secret)
    .update(`${timestamp}.`)
    .update(body)
    .digest();
  const given = Buffer.from(signature, "hex");
  if (given.length !== expected.length || !crypto.timingSafeEqual(expected, given)) {
    return "signature does not match the body";
  }
  return undefined;
}

/** "timestamp=1619071700,signature=30222eb5…" → its fields (split on ",", then the first "="). */
function parseSignatureHeader(header: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const part of header.split(",")) {
    const at = part.indexOf("=");
    if (at > 0) fields.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  return fields;
}

function sha256(bytes: Uint8Array): Uint8Array {
  return new Bun.CryptoHasher("sha256").update(bytes).digest();
}
