/**
 * pipelines_undispatched holds only the pipelines a crash left undispatched: start-up's recovery
 * reads them oldest first straight from it, and dispatched pipelines (nearly all of them) cost
 * it nothing when they are stored, marked or pruned.
 */
import { expect, test } from "bun:test";
import { Pipelines } from "../../src/pipeline/pipelines.ts";
import { memoryTack } from "../helpers/memory.ts";
import { pipelineRecord } from "../helpers/wire.ts";

const RECORD = JSON.stringify(pipelineRecord({ knot: "knot.test", did: "did:plc:a", repo: "app" }));

test("recovery lists the undispatched pipelines oldest first, from an index that holds only them", async () => {
  const { database, writer, broker } = memoryTack();
  const { sqlite } = database;
  const insert = sqlite.query(
    `INSERT INTO pipelines (created, knot, rkey, repo, kind, commit_sha, origin, record, received_at, dispatched_at)
     VALUES (?, 'knot.test', ?, 'did:plc:a', 'manual', '', 'knot', ?, 0, ?)`,
  );
  // Created out of rkey order, so "oldest first" is about `created`.
  insert.run(5_000n, "a-undispatched", RECORD, null);
  insert.run(2_000n, "b-dispatched", RECORD, 1);
  insert.run(3_000n, "c-undispatched", RECORD, null);
  insert.run(4_000n, "d-dispatched", RECORD, 1);
  const pipelines = new Pipelines(database.db, writer, broker);

  expect(pipelines.undispatched().map((pipeline) => pipeline.rkey)).toEqual([
    "c-undispatched",
    "a-undispatched",
  ]);
  // Entries in the index itself (SQLite's dbstat), not rows a query finds through it.
  const entries = () =>
    Number(
      sqlite
        .query<{ n: number }, []>(
          "SELECT sum(ncell) AS n FROM dbstat WHERE name = 'pipelines_undispatched' AND pagetype = 'leaf'",
        )
        .get()?.n,
    );
  expect(entries()).toBe(2);

  await pipelines.markDispatched("knot.test", "c-undispatched");
  expect(pipelines.undispatched().map((pipeline) => pipeline.rkey)).toEqual(["a-undispatched"]);
  expect(entries()).toBe(1);
  database.close();
});
