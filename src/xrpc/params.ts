/**
 * Reads an XRPC method's query parameters into a TypeBox-checked object: repeated parameters
 * (`?commits=a&commits=b`) become arrays, the rest single strings. Anything that does not fit
 * the schema is refused with 400 InvalidRequest naming the parameter, before the handler runs.
 */
import type { Static, TObject } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { invalidRequest } from "./errors.ts";

export function readParams<T extends TObject>(
  url: URL,
  schema: T,
  repeated: readonly string[] = [],
): Static<T> {
  const params: Record<string, string | string[]> = {};
  for (const name of repeated) params[name] = [];
  for (const [name, value] of url.searchParams) {
    const current = params[name];
    if (Array.isArray(current)) current.push(value);
    else if (current === undefined) params[name] = value;
    else throw invalidRequest(`${name}: given more than once`);
  }
  if (Value.Check(schema, params)) return params;
  const error = Value.Errors(schema, params).First();
  const name = error?.path.split("/")[1] ?? "parameters";
  const value = error?.value;
  throw invalidRequest(
    value === undefined
      ? `${name}: required`
      : `${name}: ${describe(error?.schema.description, error?.message)}`,
  );
}

function describe(expected: string | undefined, message: string | undefined): string {
  return expected ? `expected ${expected}` : (message ?? "invalid");
}
