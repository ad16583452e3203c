/**
 * Signs and sends GitHub webhook deliveries the way GitHub does, with node:crypto (never with
 * src/ code): `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, exact body)>`, plus the
 * `X-GitHub-Event` and `X-GitHub-Delivery` headers and GitHub's User-Agent.
 */
import { createHmac, randomUUID } from "node:crypto";

export const WEBHOOK_SECRET = "It's a Secret to Everybody";

export function signGithub(secret: string, body: string | Uint8Array): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export interface Delivery {
  event: string;
  /** Sent exactly as given (a string is sent verbatim, anything else as JSON). */
  payload: unknown;
  delivery?: string;
  secret?: string;
  /** Overrides the computed signature header (null: send none). */
  signature?: string | null;
}

export interface DeliveryResult {
  status: number;
  body: string;
  delivery: string;
}

/** POSTs one delivery to `<baseUrl>/webhooks/github`. */
export async function deliverGithub(baseUrl: string, delivery: Delivery): Promise<DeliveryResult> {
  const body =
    typeof delivery.payload === "string" ? delivery.payload : JSON.stringify(delivery.payload);
  const id = delivery.delivery ?? randomUUID();
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": "GitHub-Hookshot/5a8b7c6",
    "x-github-event": delivery.event,
    "x-github-delivery": id,
    "x-github-hook-id": "512345678",
    "x-github-hook-installation-target-type": "repository",
    "x-github-hook-installation-target-id": "700001",
  };
  const signature =
    delivery.signature === undefined
      ? signGithub(delivery.secret ?? WEBHOOK_SECRET, body)
      : delivery.signature;
  if (signature !== null) headers["x-hub-signature-256"] = signature;
  const response = await fetch(`${baseUrl}/webhooks/github`, { method: "POST", headers, body });
  return { status: response.status, body: await response.text(), delivery: id };
}
