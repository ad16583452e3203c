/**
 * XRPC's answer shapes: JSON bodies written as Go's json.Encoder writes them (sorted keys as
 * the generated structs order them, HTML characters escaped, a trailing newline), and errors as
 * `{"error": Name, "message": text}` with the HTTP status the error calls for.
 */
import { canonicalJson, type JsonLike } from "../eventlog/canonical-json.ts";

/** An expected failure of an XRPC call: thrown by handlers, answered by `xrpcErrorResponse`. */
export class XrpcError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
  ) {
    super(message);
  }
}

export function xrpcJson(body: JsonLike, status = 200): Response {
  return new Response(`${canonicalJson(body)}\n`, {
    status,
    headers: { "content-type": "application/json" },
  });
}

export function xrpcErrorResponse(error: XrpcError): Response {
  return new Response(xrpcErrorBody(error), {
    status: error.status,
    headers: { "content-type": "application/json" },
  });
}

/** `{"error": Name, "message": text}` and a newline. */
export function xrpcErrorBody(error: XrpcError): string {
  return `${canonicalJson({ error: error.error, message: error.message })}\n`;
}

export function invalidRequest(message: string): XrpcError {
  return new XrpcError(400, "InvalidRequest", message);
}
