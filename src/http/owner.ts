/**
 * GET /xrpc/sh.tangled.owner — the appview calls this when the spindle is registered and
 * requires HTTP 200 with `owner` equal to the registering user's DID.
 */
import { Elysia } from "elysia";

export function ownerRoutes(ownerDid: string) {
  // Go's json.Encoder ends the body with a newline; kept for byte parity.
  const body = `${JSON.stringify({ owner: ownerDid })}\n`;
  return new Elysia({ name: "owner" }).get(
    "/xrpc/sh.tangled.owner",
    () => new Response(body, { headers: { "content-type": "application/json" } }),
  );
}
