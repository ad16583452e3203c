/** spawn_attempts: the durable note that a create may have reached a CI, and its retention. */
import { expect, test } from "bun:test";
import { SpawnAttempts } from "../../src/providers/spawn-attempts.ts";
import { memoryTack } from "../helpers/memory.ts";

test("each attempt reports the one before it; attempts are counted per provider and workflow", async () => {
  const tack = memoryTack();
  const attempts = new SpawnAttempts(tack.database.db, tack.writer);
  const id = { knot: "knot.test", pipelineRkey: "3m6mxh2znw222", name: "ci.yml" };
  expect(await attempts.begin("buildkite", id, 1_000)).toBeUndefined();
  expect(await attempts.begin("buildkite", id, 2_000)).toBe(1_000);
  expect(await attempts.begin("buildkite", id, 3_000)).toBe(2_000);
  expect(attempts.count("buildkite", id)).toBe(3);
  // Another provider, or another workflow, starts afresh.
  expect(await attempts.begin("github", id, 4_000)).toBeUndefined();
  expect(await attempts.begin("buildkite", { ...id, name: "other.yml" }, 4_000)).toBeUndefined();
  tack.database.close();
});

test("retention forgets old attempts in bounded batches", async () => {
  const tack = memoryTack();
  const attempts = new SpawnAttempts(tack.database.db, tack.writer);
  for (let i = 0; i < 5; i++) {
    await attempts.begin("fake", { knot: "k", pipelineRkey: `r${i}`, name: "w" }, 1_000 + i);
  }
  expect(await tack.writer.write((tx) => attempts.pruneBefore(tx, 1_003, 2))).toBe(2);
  expect(await tack.writer.write((tx) => attempts.pruneBefore(tx, 1_003, 2))).toBe(1);
  expect(await tack.writer.write((tx) => attempts.pruneBefore(tx, 1_003, 2))).toBe(0);
  expect(attempts.count("fake", { knot: "k", pipelineRkey: "r4", name: "w" })).toBe(1);
  tack.database.close();
});
