/**
 * The durable limit for webhook ingest with group commit: Bun.serve that, for each POST,
 * verifies the Buildkite signature (HMAC-SHA256), parses the JSON, reads what a delivery must
 * be checked against (its de-dup key, the recorded build, that build's workflow), and makes the
 * writes it needs (the key, the build row, the workflow row, an event) in a group of every
 * delivery that arrived in the same turn of the event loop: one transaction and one fsync
 * (synchronous=FULL) per group, each 200 after its group committed. The builds and workflows
 * of BENCH_BUILDS seeded deliveries (see ../seed.ts) are recorded at start. No framework, no
 * schema checks, no logging, prepared statements only: what the work costs without tack.
 */
import { Database } from "bun:sqlite";
import { seededBuild } from "../seed.ts";

const SECRET = process.env.BENCH_SECRET ?? "";
const db = new Database(process.env.BENCH_DB ?? ":memory:", { create: true, strict: true });
db.run("PRAGMA journal_mode = WAL");
db.run("PRAGMA synchronous = FULL");
db.run("PRAGMA temp_store = MEMORY");
db.run(
  "CREATE TABLE IF NOT EXISTS deliveries (key TEXT PRIMARY KEY, received_at INTEGER NOT NULL)",
);
db.run(
  "CREATE TABLE IF NOT EXISTS builds (uuid TEXT PRIMARY KEY, state TEXT NOT NULL, number INTEGER, last_seen INTEGER NOT NULL)",
);
db.run(
  "CREATE TABLE IF NOT EXISTS workflows (id TEXT PRIMARY KEY, status TEXT NOT NULL, updated INTEGER NOT NULL)",
);
db.run(
  "CREATE TABLE IF NOT EXISTS events (created INTEGER PRIMARY KEY, nsid TEXT NOT NULL, event TEXT NOT NULL)",
);
const insertKey = db.prepare(
  "INSERT INTO deliveries (key, received_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
);
const upsertBuild = db.prepare(
  "INSERT INTO builds (uuid, state, number, last_seen) VALUES (?, ?, ?, ?) ON CONFLICT (uuid) DO UPDATE SET state = excluded.state, number = excluded.number, last_seen = excluded.last_seen",
);
const upsertWorkflow = db.prepare(
  "INSERT INTO workflows (id, status, updated) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated = excluded.updated",
);
const insertEvent = db.prepare("INSERT INTO events (created, nsid, event) VALUES (?, ?, ?)");
const seenKey = db.prepare<{ key: string }, [string]>("SELECT key FROM deliveries WHERE key = ?");
const recordedBuild = db.prepare<{ state: string }, [string]>(
  "SELECT state FROM builds WHERE uuid = ?",
);
const workflowStatus = db.prepare<{ status: string }, [string]>(
  "SELECT status FROM workflows WHERE id = ?",
);
const begin = db.prepare("BEGIN IMMEDIATE");
const commit = db.prepare("COMMIT");

db.transaction(() => {
  for (let i = 0; i < Number(process.env.BENCH_BUILDS ?? 0); i++) {
    const build = seededBuild(i);
    upsertBuild.run(build.uuid, "scheduled", build.number, 0);
    upsertWorkflow.run(workflowId(build.knot, build.pipelineRkey, build.workflow), "pending", 0);
  }
})();

const readBegin = db.prepare("BEGIN DEFERRED");
/** Whether a delivery is new, seen before, or for a build or workflow nobody recorded. */
function lookups(key: string, build: string, workflow: string): "new" | "duplicate" | "ignored" {
  readBegin.run();
  try {
    if (seenKey.get(key)) return "duplicate";
    return recordedBuild.get(build) && workflowStatus.get(workflow) ? "new" : "ignored";
  } finally {
    commit.run();
  }
}

function workflowId(knot: string | undefined, rkey: string | undefined, name: string | undefined) {
  return `${knot}/${rkey}/${name}`;
}

interface Delivery {
  key: string;
  build: { id: string; state: string; number: number; meta_data: Record<string, string> };
  done: (ok: boolean) => void;
}
let queue: Delivery[] = [];
let created = Date.now() * 1000;

function flush(): void {
  const group = queue;
  queue = [];
  const now = Date.now();
  begin.run();
  const applied = group.map((delivery) => {
    if (insertKey.run(delivery.key, now).changes !== 1) return false;
    const { build } = delivery;
    upsertBuild.run(build.id, build.state, build.number, now);
    const workflow = workflowId(
      build.meta_data["tack:knot"],
      build.meta_data["tack:pipeline_rkey"],
      build.meta_data["tack:workflow"],
    );
    upsertWorkflow.run(workflow, build.state, now);
    insertEvent.run(
      ++created,
      "sh.tangled.pipeline.status",
      JSON.stringify({ workflow, status: build.state, createdAt: new Date(now).toISOString() }),
    );
    return true;
  });
  commit.run();
  group.forEach((delivery, i) => {
    delivery.done(applied[i] ?? false);
  });
}

function verified(header: string | null, body: string): boolean {
  const match = /^timestamp=(\d+),signature=([0-9a-f]{64})$/.exec(header ?? "");
  if (!match) return false;
  const expected = new Bun.CryptoHasher("sha256", SECRET)
    .update(`${match[1]}.${body}`)
    .digest("hex");
  return expected === match[2];
}

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(request) {
    const body = await request.text();
    if (!verified(request.headers.get("x-buildkite-signature"), body))
      return new Response("unauthorized\n", { status: 401 });
    const parsed = JSON.parse(body) as { build: Delivery["build"] };
    const key = new Bun.CryptoHasher("sha256").update(body).digest("hex");
    const { meta_data: meta } = parsed.build;
    // One read transaction for the three lookups: each statement outside one would take and
    // drop SQLite's shared lock on its own.
    const known = lookups(
      key,
      parsed.build.id,
      workflowId(meta["tack:knot"], meta["tack:pipeline_rkey"], meta["tack:workflow"]),
    );
    if (known !== "new") return new Response(`${known}\n`);
    const applied = await new Promise<boolean>((done) => {
      if (queue.length === 0) setImmediate(flush);
      queue.push({ key, build: parsed.build, done });
    });
    return new Response(applied ? "ok\n" : "duplicate\n");
  },
});
process.stdout.write(`ready ${server.port}\n`);
