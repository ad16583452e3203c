/**
 * A crash between recording a pipeline and handing its workflows to providers: the next start
 * finishes the job, once.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { Pipelines } from "../../src/pipeline/pipelines.ts";
import type { PipelineRecord } from "../../src/tangled/lexicons.ts";
import { memoryTack } from "../helpers/memory.ts";
import { startTestTack, tempDir } from "../helpers/tack.ts";
import { until } from "../helpers/wait.ts";
import { OWNER, pipelineRecord } from "../helpers/wire.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

test("recorded but undispatched pipelines are dispatched at start, exactly once", async () => {
  const dir = tempDir();
  const knot = "knot.test";
  const record = pipelineRecord({
    knot,
    did: OWNER,
    repo: "app",
    workflows: [
      { name: "a.yml", raw: "tack: { fake: {} }" },
      { name: "b.yml", raw: "tack: { fake: {} }" },
    ],
  }) as PipelineRecord;
  // The previous process: recorded the pipeline, created a.yml as pending, then died.
  const previous = memoryTack(undefined, join(dir, "tack.db"));
  await new Pipelines(previous.database.db, previous.writer, previous.broker).recordFromKnot(
    knot,
    "3m6mxh2znw222",
    record,
  );
  await previous.workflows.create(
    { knot, pipelineRkey: "3m6mxh2znw222", name: "a.yml" },
    { provider: "fake", options: {}, context: {} },
    "pending",
  );
  previous.database.close();

  await using service = await startTestTack({ dir });
  const get = (name: string) =>
    service.tack.workflows.get({ knot, pipelineRkey: "3m6mxh2znw222", name });
  await until(
    () => get("a.yml")?.status === "success" && get("b.yml")?.status === "success",
    "both done",
  );
  const spawned = service.logs
    .filter((l) => l.msg === "dispatch: workflow spawned")
    .map((l) => l.workflow);
  expect(spawned.sort()).toEqual(["a.yml", "b.yml"]);
  const statuses = service.tack.broker.store
    .after(0n, 100)
    .map((row) => JSON.parse(row.event) as { workflow: string; status: string })
    .map((s) => `${s.workflow}:${s.status}`);
  expect(statuses.filter((s) => s.startsWith("a.yml"))).toEqual([
    "a.yml:pending",
    "a.yml:running",
    "a.yml:success",
  ]);
  expect(statuses.filter((s) => s.startsWith("b.yml"))).toEqual([
    "b.yml:pending",
    "b.yml:running",
    "b.yml:success",
  ]);
  const open = service.tack.database.sqlite
    .query("select count(*) as n from pipelines where dispatched_at is null")
    .get() as { n: bigint };
  expect(open.n).toBe(0n);
});
