/**
 * pipeline_counts: kept by triggers as pipelines come, change repo or kind, and go (retention),
 * filled from the existing table by its migration, and what queryPipelines' `total` reads.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Pipelines } from "../../src/pipeline/pipelines.ts";
import { memoryTack } from "../helpers/memory.ts";

const MIGRATION = join(import.meta.dir, "..", "..", "drizzle", "0013_pipeline_counts.sql");

type Sqlite = ReturnType<typeof memoryTack>["database"]["sqlite"];

const RECORD = JSON.stringify({
  $type: "sh.tangled.pipeline",
  triggerMetadata: {
    kind: "manual",
    manual: { inputs: [] },
    repo: { knot: "knot.test", did: "did:plc:a", repo: "app", defaultBranch: "main" },
  },
  workflows: [],
});

let created = 1_000n;
function insert(sqlite: Sqlite, repo: string, kind: string, receivedAt = 0, rkey?: string) {
  created += 1n;
  sqlite
    .query(
      `INSERT INTO pipelines (created, knot, rkey, repo, kind, commit_sha, origin, record, received_at, dispatched_at)
       VALUES (?, 'knot.test', ?, ?, ?, '', 'knot', ?, ?, 1)`,
    )
    .run(created, rkey ?? `r${created}`, repo, kind, RECORD, receivedAt);
}

/** The kept counts, and the same counted from pipelines, as "repo/kind=n" lines. */
function counts(sqlite: Sqlite) {
  const lines = (sql: string) =>
    (sqlite.query(sql).all() as { repo: string; kind: string; count: number }[])
      .filter((row) => row.count > 0)
      .map((row) => `${row.repo}/${row.kind}=${row.count}`)
      .sort();
  return {
    kept: lines("SELECT repo, kind, count FROM pipeline_counts"),
    actual: lines("SELECT repo, kind, count(*) AS count FROM pipelines GROUP BY repo, kind"),
  };
}

test("the counts follow inserts, a change of repo or kind, and deletes", () => {
  const { database } = memoryTack();
  const { sqlite } = database;
  for (let i = 0; i < 5; i++) insert(sqlite, "did:plc:a", "push");
  for (let i = 0; i < 3; i++) insert(sqlite, "did:plc:a", "pull_request");
  insert(sqlite, "did:plc:b", "manual", 0, "moving");
  expect(counts(sqlite).kept).toEqual([
    "did:plc:a/pull_request=3",
    "did:plc:a/push=5",
    "did:plc:b/manual=1",
  ]);
  sqlite.run("UPDATE pipelines SET repo = 'did:plc:c', kind = 'push' WHERE rkey = 'moving'");
  sqlite.run("DELETE FROM pipelines WHERE repo = 'did:plc:a' AND kind = 'push' AND rowid % 2 = 0");
  const after = counts(sqlite);
  expect(after.kept).toEqual(after.actual);
  expect(after.kept).toContain("did:plc:c/push=1");
  database.close();
});

test("the migration fills the counts from the pipelines already there", () => {
  const { database } = memoryTack();
  const { sqlite } = database;
  for (let i = 0; i < 4; i++) insert(sqlite, "did:plc:a", "push");
  insert(sqlite, "did:plc:b", "manual");
  sqlite.run("DELETE FROM pipeline_counts");
  const backfill = readFileSync(MIGRATION, "utf8")
    .split("--> statement-breakpoint")
    .find((statement) => statement.includes("INSERT INTO `pipeline_counts`"));
  sqlite.run(backfill ?? "");
  const { kept, actual } = counts(sqlite);
  expect(kept).toEqual(["did:plc:a/push=4", "did:plc:b/manual=1"]);
  expect(kept).toEqual(actual);
  database.close();
});

test("queryPipelines' total, first page and from a cursor, stays right as retention prunes", async () => {
  const { database, writer, broker } = memoryTack();
  const { sqlite } = database;
  const store = new Pipelines(database.db, writer, broker);
  for (let i = 0; i < 6; i++) insert(sqlite, "did:plc:a", "push", i < 4 ? 10 : 5_000);
  for (let i = 0; i < 2; i++) insert(sqlite, "did:plc:a", "manual", 5_000);
  insert(sqlite, "did:plc:b", "push", 10);
  const totals = () => {
    const first = store.query({ repo: "did:plc:a", limit: 3 });
    const cursor = first.pipelines.at(-1)?.created;
    return {
      all: first.total,
      pushes: store.query({ repo: "did:plc:a", limit: 3, kinds: ["push"] }).total,
      fromCursor: store.query({ repo: "did:plc:a", limit: 3, before: cursor }).total,
    };
  };
  expect(totals()).toEqual({ all: 8, pushes: 6, fromCursor: 5 });
  // Retention forgets the pipelines received before 1,000 ms: four of repo a's pushes.
  await writer.write((tx) => store.pruneBefore(tx, 1_000, 100));
  expect(totals()).toEqual({ all: 4, pushes: 2, fromCursor: 1 });
  database.close();
});
