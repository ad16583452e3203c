/**
 * A prepared statement built on first use. Hot paths prepare their statements once, but
 * building one with drizzle takes a while, and start-up should not wait for statements the
 * first requests may never need.
 */
export function prepareOnce<T>(build: () => T): () => T {
  let statement: T | undefined;
  return () => {
    statement ??= build();
    return statement;
  };
}
