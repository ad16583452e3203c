/** An observation's status change, row update and delivery id commit together, once. */
import { expect, test } from "bun:test";
import type { Tx } from "../../src/db/writer.ts";
import { createLogger } from "../../src/log.ts";
import { applyObservation } from "../../src/providers/apply-observation.ts";
import { WebhookDeliveries } from "../../src/providers/deliveries.ts";
import { fakeClock, memoryTack } from "../helpers/memory.ts";

test("a delivery applied twice changes the status once and answers false the second time", async () => {
  const { clock } = fakeClock(1_700_000_000_000);
  const tack = memoryTack(clock);
  const id = { knot: "knot.test", pipelineRkey: "3m6mxh2znw222", name: "ci.yml" };
  await tack.workflows.create(id, { provider: "example", options: {}, context: {} }, "pending");
  const observed: { state: string | undefined; now: number }[] = [];
  const rows = {
    observe: (_tx: Tx, _correlationId: string, state: string | undefined, now: number) => {
      observed.push({ state, now });
    },
  };
  const logged: Record<string, unknown>[] = [];
  const deps = {
    workflows: tack.workflows,
    writer: tack.writer,
    deliveries: new WebhookDeliveries(tack.database.db),
    clock,
    log: createLogger("info", (line) => logged.push(JSON.parse(line))),
  };
  const observation = {
    provider: "example",
    build: { correlationId: "corr-1", workflow: id },
    rows,
    status: "running" as const,
    detail: {},
    state: "in_progress",
    deliveryId: "delivery-1",
    logFields: { example_build_id: 42 },
  };
  expect(await applyObservation(deps, observation)).toBe(true);
  expect(tack.workflows.get(id)?.status).toBe("running");
  expect(logged).toMatchObject([
    {
      msg: "example: workflow status",
      workflow: "ci.yml",
      example_build_id: 42,
      status: "running",
    },
  ]);
  expect(await applyObservation(deps, observation)).toBe(false);
  expect(logged.length).toBe(1);
  // Without a status the row is still updated, and no status log line is written.
  expect(
    await applyObservation(deps, { ...observation, status: undefined, deliveryId: undefined }),
  ).toBe(true);
  // Every application updated the row, the refused duplicate too (its row update is harmless).
  expect(observed.map((row) => row.state)).toEqual(["in_progress", "in_progress", "in_progress"]);
  expect(logged.length).toBe(1);
  tack.database.close();
});
