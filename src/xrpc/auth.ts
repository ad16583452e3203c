/**
 * The authenticated half of XRPC: who is calling (service auth, checked before anything else)
 * and what they sent (a JSON body checked against the method's schema).
 */
import type { Static, TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { AuthError, type ServiceAuth } from "../atproto/service-auth.ts";
import { invalidRequest, XrpcError } from "./errors.ts";

/** The caller's DID; 403 Auth when the token is missing or wrong in any way. */
export async function callerOf(
  auth: ServiceAuth,
  request: Request,
  method: string,
): Promise<string> {
  try {
    return await auth.verify(request.headers.get("authorization"), method);
  } catch (error) {
    if (error instanceof AuthError) {
      throw new XrpcError(403, "Auth", `signature verification failed: ${error.message}`);
    }
    throw error;
  }
}

/** The request's JSON body, checked against `schema`; 400 InvalidRequest naming what is wrong. */
export async function jsonBody<T extends TSchema>(request: Request, schema: T): Promise<Static<T>> {
  let body: unknown;
  try {
    body = JSON.parse(await request.text());
  } catch {
    throw invalidRequest("the body is not JSON");
  }
  if (Value.Check(schema, body)) return body;
  const error = Value.Errors(schema, body).First();
  const where = error?.path.replace(/^\//, "").replaceAll("/", ".") || "body";
  throw invalidRequest(
    error?.value === undefined
      ? `${where}: required`
      : `${where}: ${error.schema.description ?? error.message}`,
  );
}
