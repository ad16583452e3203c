/**
 * Teardown for tests that start servers: returns `defer(step)`; after each test the deferred
 * steps run in reverse order (last started, first stopped). Call it at a test file's top level.
 */
import { afterEach } from "bun:test";

export function cleanupAfterEach(): (step: () => unknown) => void {
  const steps: (() => unknown)[] = [];
  afterEach(async () => {
    for (const step of steps.splice(0).reverse()) await step();
  });
  return (step) => {
    steps.push(step);
  };
}
