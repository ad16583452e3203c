/** The correlation id tack makes is the one it finds again in a CI's run title or pipeline name. */
import { expect, test } from "bun:test";
import { correlationIdIn, newCorrelationId } from "../../src/providers/correlation-id.ts";

test("a new id is found again inside the text a CI shows, and nothing else passes for one", () => {
  const id = newCorrelationId();
  expect(id).not.toBe(newCorrelationId());
  expect(correlationIdIn(`tangled ci.yml (${id})`)).toBe(id);
  expect(correlationIdIn("tack-not-a-uuid")).toBeUndefined();
  expect(correlationIdIn("")).toBeUndefined();
  expect(correlationIdIn(null)).toBeUndefined();
  expect(correlationIdIn(undefined)).toBeUndefined();
});
