import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { pipelineUri } from "../../src/pipeline/workflows.ts";
import { fakeClock, memoryTack, statuses } from "../helpers/memory.ts";
import { tempDir } from "../helpers/tack.ts";

const id = { knot: "knot.example.com:6000", pipelineRkey: "3m6mxh2znw222", name: "test.yml" };
const init = { provider: "fake", options: {}, context: {} };

describe("Workflows", () => {
  test("the first status is a sh.tangled.pipeline.status record with the real $type", async () => {
    const { workflows, store } = memoryTack(fakeClock(Date.UTC(2026, 10, 26, 20, 0, 0, 400)).clock);
    expect(await workflows.create(id, init, "pending")).toBe(true);
    const [row] = store.after(0n, 10);
    expect(row?.nsid).toBe("sh.tangled.pipeline.status");
    expect(row?.event).toBe(
      '{"$type":"sh.tangled.pipeline.status","createdAt":"2026-11-26T20:00:00Z",' +
        '"pipeline":"at://did:web:knot.example.com:6000/sh.tangled.pipeline/3m6mxh2znw222",' +
        '"status":"pending","workflow":"test.yml"}',
    );
    expect(pipelineUri(id.knot, id.pipelineRkey)).toBe(
      "at://did:web:knot.example.com:6000/sh.tangled.pipeline/3m6mxh2znw222",
    );
  });

  test("a repeated create changes nothing", async () => {
    const { workflows, store } = memoryTack(fakeClock(1_800_000_000_000).clock);
    expect(await workflows.create(id, init, "pending")).toBe(true);
    expect(await workflows.create(id, init, "failed", { error: "x" })).toBe(false);
    expect(statuses(store)).toHaveLength(1);
    expect(workflows.get(id)?.status).toBe("pending");
  });

  test("statuses only move forward; duplicates and late ones are dropped", async () => {
    const { workflows, store } = memoryTack(fakeClock(1_800_000_000_000).clock);
    await workflows.create(id, init, "pending");
    expect(await workflows.transition(id, "running")).toBe(true);
    expect(await workflows.transition(id, "running")).toBe(false);
    expect(await workflows.transition(id, "pending")).toBe(false);
    expect(await workflows.transition(id, "success")).toBe(true);
    expect(await workflows.transition(id, "failed")).toBe(false);
    expect(await workflows.transition(id, "running")).toBe(false);
    expect(statuses(store).map((s) => s.status)).toEqual(["pending", "running", "success"]);
  });

  test("a jump straight to a terminal state is allowed", async () => {
    const { workflows, store } = memoryTack(fakeClock(1_800_000_000_000).clock);
    await workflows.create(id, init, "pending");
    expect(await workflows.transition(id, "failed", { error: "boom", exitCode: 1 })).toBe(true);
    expect(statuses(store).at(-1)).toMatchObject({ status: "failed", error: "boom", exitCode: 1 });
  });

  test("an unknown workflow cannot transition", async () => {
    const { workflows, store } = memoryTack(fakeClock(1_800_000_000_000).clock);
    expect(await workflows.transition(id, "running")).toBe(false);
    expect(statuses(store)).toEqual([]);
  });

  test("transitions in the same second wait for the next one and are never stamped ahead", async () => {
    const time = fakeClock(1_800_000_000_250);
    const { workflows, store } = memoryTack(time.clock);
    await workflows.create(id, init, "pending");
    await workflows.transition(id, "running");
    await workflows.transition(id, "success");
    const seconds = statuses(store).map((s) => Date.parse(String(s.createdAt)) / 1000);
    expect(seconds).toEqual([1_800_000_000, 1_800_000_001, 1_800_000_002]);
    // Each wait lasted exactly until the next second began.
    expect(time.sleeps).toEqual([750, 1000]);
    expect(Math.floor(time.nowMs() / 1000)).toBe(1_800_000_002);
  });

  test("no wait when the clock already passed the last second", async () => {
    const time = fakeClock(1_800_000_000_000);
    const { workflows } = memoryTack(time.clock);
    await workflows.create(id, init, "pending");
    time.advance(5_000);
    await workflows.transition(id, "running");
    expect(time.sleeps).toEqual([]);
  });

  test("concurrent reports for one workflow are serialized and stay forward-only", async () => {
    const { workflows, store } = memoryTack(fakeClock(1_800_000_000_000).clock);
    await workflows.create(id, init, "pending");
    const results = await Promise.all([
      workflows.transition(id, "success"),
      workflows.transition(id, "running"),
      workflows.transition(id, "success"),
    ]);
    expect(results).toEqual([true, false, false]);
    expect(statuses(store).map((s) => s.status)).toEqual(["pending", "success"]);
  });

  test("the spacing survives a restart (the last second is stored)", async () => {
    const path = join(tempDir(), "tack.db");
    const time = fakeClock(1_800_000_000_900);
    const first = memoryTack(time.clock, path);
    await first.workflows.create(id, init, "pending");
    first.database.close();
    const second = memoryTack(time.clock, path);
    await second.workflows.transition(id, "running");
    const seconds = statuses(second.store).map((s) => Date.parse(String(s.createdAt)) / 1000);
    expect(seconds).toEqual([1_800_000_000, 1_800_000_001]);
    expect(time.sleeps).toEqual([100]);
    second.database.close();
  });
});
