/**
 * Authenticates a GitLab webhook against TACK_GITLAB_WEBHOOK_SECRET: GitLab sends the webhook's
 * secret token itself in `X-Gitlab-Token` (a shared secret, not a signature over the body).
 * Compared in constant time: both sides are hashed first, so not even the length leaks.
 *
 * The reason for a refusal is for our log only; the sender gets a bare 401.
 */
import { timingSafeEqual } from "node:crypto";

/** Returns why the token does not match, or undefined when it does. */
export function verifyToken(secret: string, token: string | null): string | undefined {
  if (token === null) return "no X-Gitlab-Token header (does the webhook have a secret token?)";
  const expected = sha256(secret);
  const given = sha256(token);
  return timingSafeEqual(expected, given) ? undefined : "X-Gitlab-Token does not match";
}

function sha256(text: string): Buffer {
  return Buffer.from(new Bun.CryptoHasher("sha256").update(text).digest());
}
