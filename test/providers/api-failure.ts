/** The ApiError a call failed with; the test fails if it did not fail that way. */
import { ApiError } from "../../src/providers/http-client.ts";

export async function apiFailure(call: Promise<unknown>): Promise<ApiError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ApiError)) throw new Error(`expected an ApiError, got ${error}`);
  return error;
}
