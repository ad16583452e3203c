/**
 * Migrations are visible and one-way (#15, defect 9): each is logged, the schema version is
 * reported, a database from a newer tack is refused, and `tack check` never migrates.
 */
import { Database } from "bun:sqlite";
import { expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import journal from "../../drizzle/meta/_journal.json" with { type: "json" };
import { runCheck } from "../../src/commands/check.ts";
import { acquireInstanceLock } from "../../src/db/instance-lock.ts";
import { BINARY_SCHEMA_VERSION, schemaState } from "../../src/db/migrate.ts";
import { StartupError } from "../../src/startup-error.ts";
import { startTack } from "../../src/tack.ts";
import { captureLogger, startTestTack, tempDir, testConfig } from "../helpers/tack.ts";

setDefaultTimeout(30_000);

test("a new database logs each migration it applies, then its schema version (#15)", async () => {
  await using service = await startTestTack({ emptyDatabase: true });
  const applied = service.logs.filter((l) => l.msg === "db: applying migration");
  expect(applied.map((l) => l.tag)).toEqual(journal.entries.map((entry) => entry.tag));
  expect(applied.map((l) => l.schema_version)).toEqual(journal.entries.map((_, i) => i + 1));
  expect(service.logs.find((l) => l.msg === "db: schema ready")).toMatchObject({
    schema_version: BINARY_SCHEMA_VERSION,
    applied: BINARY_SCHEMA_VERSION,
  });
  const health = (await (await fetch(`${service.http}/healthz`)).json()) as {
    schema_version: number;
  };
  expect(health.schema_version).toBe(BINARY_SCHEMA_VERSION);
});

test("a restart on an up-to-date database applies nothing (#15)", async () => {
  const dir = tempDir();
  {
    await using _first = await startTestTack({ dir });
  }
  await using again = await startTestTack({ dir });
  expect(again.logs.filter((l) => l.msg === "db: applying migration")).toEqual([]);
  expect(again.logs.find((l) => l.msg === "db: schema ready")).toMatchObject({ applied: 0 });
});

test("a database migrated by a newer tack is refused with a clear message (#15)", async () => {
  const dir = tempDir();
  {
    await using _first = await startTestTack({ dir });
  }
  const db = new Database(join(dir, "tack.db"));
  db.run("insert into __drizzle_migrations (hash, created_at) values ('newer', 99999999999999)");
  db.close();
  const { log } = captureLogger();
  const error = await startTack(testConfig(dir), log).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(StartupError);
  expect((error as Error).message).toBe(
    `database ${join(dir, "tack.db")} has schema version ${BINARY_SCHEMA_VERSION + 1}, newer than this tack's ${BINARY_SCHEMA_VERSION}: it was used by a newer tack. Run that version, or restore the backup taken before the upgrade (tack restore)`,
  );
  // The refusal released the lock on its way out: another process may take it at once.
  acquireInstanceLock(join(dir, "tack.db"), "test").release();
});

test("tack check reports the schema version and pending migrations without applying them (#15)", async () => {
  const dir = tempDir();
  {
    await using _first = await startTestTack({ dir });
  }
  // Pretend the last migration has not run yet (as after installing a newer binary).
  const path = join(dir, "tack.db");
  const db = new Database(path);
  db.run(
    "delete from __drizzle_migrations where created_at = (select max(created_at) from __drizzle_migrations)",
  );
  db.close();
  const jetstream = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request, server) =>
      server.upgrade(request) ? undefined : new Response("", { status: 400 }),
    websocket: { message() {} },
  });
  const lines: string[] = [];
  try {
    await runCheck(
      {
        TACK_HOSTNAME: "spindle.example.com",
        TACK_OWNER_DID: "did:plc:abc",
        TACK_DB_PATH: path,
        TACK_JETSTREAM_URL: `ws://127.0.0.1:${jetstream.port}/subscribe`,
      },
      (line) => lines.push(line),
    );
  } finally {
    jetstream.stop(true);
  }
  expect(lines.find((l) => l.startsWith("database"))).toMatch(
    new RegExp(
      `^database\\s+ok\\s+.*tack\\.db: schema version ${BINARY_SCHEMA_VERSION - 1}; 1 migration\\(s\\) to ${BINARY_SCHEMA_VERSION} run at the next start$`,
    ),
  );
  const after = new Database(path, { readonly: true });
  expect(schemaState(after).version).toBe(BINARY_SCHEMA_VERSION - 1);
  after.close();
});
