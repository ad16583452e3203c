/**
 * Another process holding the database's write lock must not freeze tack (#15, defect 6):
 * SQLite's busy handler sleeps on the event loop, so tack waits for the lock on timers instead.
 * The lock holder is a separate process running `BEGIN IMMEDIATE`, as an operator's `sqlite3`
 * session would.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { cleanupAfterEach } from "../helpers/cleanup.ts";
import { startTestTack } from "../helpers/tack.ts";
import { until } from "../helpers/wait.ts";

setDefaultTimeout(30_000);
const defer = cleanupAfterEach();

/** A process that holds BEGIN IMMEDIATE on `db` until its stdin closes. */
async function holdWriteLock(db: string) {
  const script = `
    import { Database } from "bun:sqlite";
    const db = new Database(${JSON.stringify(db)});
    db.run("BEGIN IMMEDIATE");
    db.run("insert into health_probe (id, checked_at) values (1, 0) on conflict (id) do update set checked_at = 0");
    process.stdout.write("locked\\n");
    for await (const _ of Bun.stdin.stream()) {}
    db.run("COMMIT");
    process.stdout.write("released\\n");
  `;
  const child = Bun.spawn(["bun", "-e", script], { stdin: "pipe", stdout: "pipe" });
  defer(() => child.kill("SIGKILL"));
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  expect(new TextDecoder().decode(value)).toBe("locked\n");
  return {
    async release() {
      child.stdin.end();
      await child.exited;
    },
  };
}

test("while another process holds the write lock, requests answer, /healthz reports the lock, and queued writes commit after (#15)", async () => {
  await using service = await startTestTack({ overrides: { health: { probeTimeoutMs: 200 } } });
  // The event loop's longest stall while the lock is held: a frozen loop shows up here.
  let last = performance.now();
  let longestStallMs = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longestStallMs = Math.max(longestStallMs, now - last);
    last = now;
  }, 5);
  defer(() => clearInterval(ticker));

  const lock = await holdWriteLock(service.config.dbPath);
  const id = { knot: "knot.test", pipelineRkey: "3m6mxh2znw222", name: "ci.yml" };
  let committed = false;
  const write = service.tack.workflows
    .create(id, { provider: "fake", options: {}, context: {} }, "pending")
    .then(() => {
      committed = true;
    });

  const root = await fetch(`${service.http}/`);
  expect(root.status).toBe(200);
  const health = await fetch(`${service.http}/healthz`);
  expect(health.status).toBe(503);
  const report = (await health.json()) as {
    status: string;
    reasons: string[];
    database: { writable: boolean; locked?: boolean; error?: string };
  };
  expect(report.status).toBe("unavailable");
  expect(report.database).toMatchObject({ writable: false, locked: true });
  expect(report.reasons[0]).toMatch(/^database: locked by another process for \d+ s/);
  // Reads keep working from the last committed state.
  expect(service.tack.workflows.get(id)).toBeUndefined();
  await until(
    () =>
      service.logs.some(
        (l) => l.msg === "db: database locked by another process; writes are waiting",
      ),
    "lock warning",
  );
  const metrics = await (await fetch(`${service.http}/metrics`)).text();
  expect(metrics).toMatch(/^tack_database_locked_seconds [1-9]/m);
  expect(committed).toBe(false); // waiting, not failed

  await lock.release();
  await write;
  expect(service.tack.workflows.get(id)?.status).toBe("pending");
  expect((await fetch(`${service.http}/healthz`)).status).toBe(200);
  expect(service.logs.some((l) => l.msg === "db: database lock released; writes resumed")).toBe(
    true,
  );
  // SQLite's own busy wait would have stalled the loop for seconds; tack's is 20 ms at a time.
  expect(longestStallMs).toBeLessThan(1_000);
});
