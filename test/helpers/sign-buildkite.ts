/**
 * Signs Buildkite webhooks the way Buildkite does, with node:crypto and
 * nothing from src/: `X-Buildkite-Signature: timestamp=<unix s>,signature=<hex HMAC-SHA256 of
 * "<timestamp>.<body>">`, or in token mode `X-Buildkite-Token: <secret>`.
 */
import { createHmac } from "node:crypto";

export function buildkiteSignature(secret: string, body: string, timestamp: number): string {
  const signature = createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
  return `timestamp=${timestamp},signature=${signature}`;
}

/** The headers of a delivery of `event` with `body`; `nowMs` dates a signature. */
export function buildkiteHeaders(options: {
  mode: "token" | "signature";
  secret: string;
  event: string;
  body: string;
  nowMs: number;
}): Record<string, string> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": "Buildkite-Request",
    "x-buildkite-event": options.event,
  };
  if (options.mode === "token") headers["x-buildkite-token"] = options.secret;
  else {
    headers["x-buildkite-signature"] = buildkiteSignature(
      options.secret,
      options.body,
      Math.floor(options.nowMs / 1000),
    );
  }
  return headers;
}
