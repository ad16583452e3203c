/**
 * Builds benchmark databases fast: tack's own migrations, then rows written straight into the
 * tables in large transactions (publishing a million events through tack would take minutes
 * and measure nothing of interest). The rows have the shapes tack writes: status events with
 * TID rkeys and canonical JSON, finished workflows whose latest status is one of those events,
 * and their pipelines.
 *
 * `bun bench/seed.ts <path> <events> <finished workflows>` builds one by hand.
 */
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import journal from "../drizzle/meta/_journal.json" with { type: "json" };
import { openDb } from "../src/db/client.ts";
import { runMigrations } from "../src/db/migrate.ts";
import { encodeTid } from "../src/eventlog/tid.ts";

export const SEED_KNOT = "knot.bench.example";
/** 2026-11-26T00:00:00Z: every seeded row is older than any run of a benchmark. */
const BASE_MS = 1_795_651_200_000;
/** Seeded pending workflow `i` has the pipeline TID of SEED_BASE_MICROS + i. */
export const SEED_BASE_MICROS = BigInt(BASE_MS) * 1000n;

export interface SeedOptions {
  events: number;
  /** Finished workflows (one per pipeline), each with its latest status among the events. */
  workflows: number;
  /**
   * Pending Buildkite workflows, each with its build recorded (as spawn leaves them, minus
   * `spawned_at`, so start-up does not poll a CI for them): what webhooks move forward.
   */
  buildkitePending?: number;
  /**
   * A finished Buildkite build per finished workflow, and 20 unfinished ones: what
   * reconciliation walks past.
   */
  builds?: boolean;
}

/** The build of seeded pending Buildkite workflow `i`. */
export function seededBuild(i: number) {
  return {
    uuid: `0b0b0b0b-0000-4000-8000-${i.toString(16).padStart(12, "0")}`,
    number: i + 1,
    knot: SEED_KNOT,
    pipelineRkey: encodeTid(SEED_BASE_MICROS + BigInt(i), 11),
    workflow: "ci.yml",
  };
}

/**
 * The shared seeded database of `n` events, finished workflows with their pipelines, and
 * finished Buildkite builds (see `builds`), cached between runs under the temporary directory.
 */
export function seededLog(n: number): string {
  return seedDatabase(join(tmpdir(), "tack-bench-seed", `log-${n}.db`), {
    events: n,
    workflows: n,
    builds: true,
  });
}

/** Creates (or reuses, when it exists with the same sizes) a seeded database at `path`. */
export function seedDatabase(path: string, options: SeedOptions): string {
  // The newest migration's stamp too: a database seeded under another schema is seeded again.
  const schema = journal.entries.at(-1)?.when ?? 0;
  const marker = `${path}.seeded-${schema}-${options.events}-${options.workflows}-${options.buildkitePending ?? 0}-${options.builds ? "builds" : ""}`;
  if (existsSync(path) && existsSync(marker)) return path;
  mkdirSync(dirname(path), { recursive: true });
  // The markers of what the file held before (another schema or size) no longer hold.
  for (const stale of new Bun.Glob(`${basename(path)}.seeded-*`).scanSync(dirname(path)))
    rmSync(join(dirname(path), stale), { force: true });
  rmSync(path, { force: true });
  rmSync(`${path}-wal`, { force: true });
  rmSync(`${path}-shm`, { force: true });
  const opened = openDb(path);
  runMigrations(opened.db);
  opened.close();

  const sqlite = new Database(path, { strict: true, safeIntegers: true });
  sqlite.run("PRAGMA journal_mode = WAL");
  sqlite.run("PRAGMA synchronous = OFF");
  const insertEvent = sqlite.prepare(
    "INSERT INTO events (created, rkey, nsid, event) VALUES ($created, $rkey, $nsid, $event)",
  );
  const insertPipeline = sqlite.prepare(
    `INSERT INTO pipelines (created, knot, rkey, repo, kind, commit_sha, origin, record, received_at, dispatched_at)
     VALUES ($created, $knot, $rkey, $repo, 'push', $sha, 'knot', $record, $at, $at)`,
  );
  const insertWorkflow = sqlite.prepare(
    `INSERT INTO workflows (knot, pipeline_rkey, name, provider, options, context, status, error,
       last_status_sec, last_event_created, started_at, finished_at, spawned_at, created_at, updated_at)
     VALUES ($knot, $rkey, 'ci.yml', 'fake', '{}', '{}', 'success', NULL, $sec, $created, $iso, $iso, $at, $at, $at)`,
  );
  const finishedBuild = sqlite.prepare(
    `INSERT INTO buildkite_builds (build_uuid, knot, pipeline_rkey, workflow, org, pipeline, number, web_url, state, last_seen_at, created_at)
     VALUES ($uuid, $knot, $rkey, 'ci.yml', 'bench', 'bench', $number, NULL, $state, $at, $at)`,
  );
  const total = Math.max(options.events, options.workflows);
  const chunk = 50_000;
  for (let from = 0; from < total; from += chunk) {
    sqlite.transaction(() => {
      for (let i = from; i < Math.min(total, from + chunk); i++) {
        const ms = BASE_MS + Math.floor(i / 10);
        const created = BigInt(ms) * 1_000_000n + BigInt(i % 10);
        const rkey = encodeTid(BigInt(ms) * 1000n + BigInt(i % 10), 7);
        const pipelineRkey = encodeTid(BigInt(ms) * 1000n + BigInt(i % 10), 9);
        const iso = new Date(ms - (ms % 1000)).toISOString().replace(/\.\d{3}Z$/, "Z");
        const pipeline = `at://did:web:${SEED_KNOT}/sh.tangled.pipeline/${pipelineRkey}`;
        if (i < options.events) {
          insertEvent.run({
            created,
            rkey,
            nsid: "sh.tangled.pipeline.status",
            event: `{"$type":"sh.tangled.pipeline.status","createdAt":"${iso}","pipeline":"${pipeline}","status":"success","workflow":"ci.yml"}`,
          });
        }
        if (i < options.workflows) {
          const repo = `did:plc:benchrepo${String(i % 100).padStart(15, "0")}`;
          const sha = i.toString(16).padStart(40, "0");
          insertPipeline.run({
            created: created + 1n,
            knot: SEED_KNOT,
            rkey: pipelineRkey,
            repo,
            sha,
            record: JSON.stringify({
              triggerMetadata: {
                kind: "push",
                repo: {
                  knot: SEED_KNOT,
                  did: "did:plc:bench",
                  repoDid: repo,
                  defaultBranch: "main",
                },
                push: { ref: "refs/heads/main", newSha: sha, oldSha: "0".repeat(40) },
              },
              workflows: [{ name: "ci.yml", engine: "tack", raw: "tack: { fake: {} }\n" }],
            }),
            at: ms,
          });
          insertWorkflow.run({
            knot: SEED_KNOT,
            rkey: pipelineRkey,
            sec: Math.floor(ms / 1000),
            created: i < options.events ? created : null,
            iso,
            at: ms,
          });
          if (options.builds) {
            finishedBuild.run({
              uuid: `f1f1f1f1-0000-4000-8000-${i.toString(16).padStart(12, "0")}`,
              knot: SEED_KNOT,
              rkey: pipelineRkey,
              number: i + 1,
              // The last 20 are still running: reconciliation's whole work list.
              state: i >= options.workflows - 20 ? "running" : "passed",
              at: ms,
            });
          }
        }
      }
    })();
  }
  const pendingWorkflow = sqlite.prepare(
    `INSERT INTO workflows (knot, pipeline_rkey, name, provider, options, context, status, error,
       last_status_sec, last_event_created, started_at, finished_at, spawned_at, created_at, updated_at)
     VALUES ($knot, $rkey, $name, 'buildkite', '{"pipeline":"bench"}', '{}', 'pending', NULL, $sec, NULL, NULL, NULL, NULL, $at, $at)`,
  );
  const build = sqlite.prepare(
    `INSERT INTO buildkite_builds (build_uuid, knot, pipeline_rkey, workflow, org, pipeline, number, web_url, state, last_seen_at, created_at)
     VALUES ($uuid, $knot, $rkey, $name, 'bench', 'bench', $number, NULL, 'scheduled', $at, $at)`,
  );
  const now = Date.now();
  sqlite.transaction(() => {
    for (let i = 0; i < (options.buildkitePending ?? 0); i++) {
      const seeded = seededBuild(i);
      const names = { knot: seeded.knot, rkey: seeded.pipelineRkey, name: seeded.workflow };
      pendingWorkflow.run({ ...names, sec: Math.floor(now / 1000) - 10, at: now });
      build.run({ ...names, uuid: seeded.uuid, number: seeded.number, at: now });
    }
  })();
  sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)");
  sqlite.close();
  Bun.write(marker, "");
  return path;
}

if (import.meta.main) {
  const [path, events, workflows] = process.argv.slice(2);
  if (!path) throw new Error("usage: bun bench/seed.ts <path> <events> <finished workflows>");
  seedDatabase(path, { events: Number(events ?? 0), workflows: Number(workflows ?? 0) });
  console.log(`seeded ${path}`);
}
