/**
 * One tack per database and per port, and start-up failures in one line (#15, defects 4 and
 * 10). Real processes: the lock must hold between processes and die with its holder.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DatabaseInUseError } from "../../src/db/instance-lock.ts";
import { cleanupAfterEach } from "../helpers/cleanup.ts";
import { startTestTack, tempDir } from "../helpers/tack.ts";

setDefaultTimeout(30_000);
const defer = cleanupAfterEach();
const MAIN = join(import.meta.dir, "..", "..", "src", "main.ts");

function env(dbPath: string, addr: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "/tmp",
    TACK_HOSTNAME: "spindle.test",
    TACK_OWNER_DID: "did:plc:owner000000000000000000",
    TACK_DB_PATH: dbPath,
    TACK_LISTEN_ADDR: addr,
    TACK_JETSTREAM_URL: "ws://127.0.0.1:1/subscribe",
  };
}

/** Starts `tack` as a process and resolves with its port once it logs "listening". */
async function serve(dbPath: string, addr = "127.0.0.1:0") {
  const child = Bun.spawn(["bun", MAIN], {
    env: env(dbPath, addr),
    stdout: "pipe",
    stderr: "pipe",
  });
  defer(() => child.kill("SIGKILL"));
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of child.stdout) {
    buffer += decoder.decode(chunk);
    const match = /"msg":"tack: listening".*"port":(\d+)/.exec(buffer);
    if (match) return { child, port: Number(match[1]) };
  }
  throw new Error(`tack did not start: ${buffer}${await new Response(child.stderr).text()}`);
}

/** Runs `tack` to completion (it is expected to refuse to start). */
async function refused(dbPath: string, addr: string, args: string[] = []) {
  const child = Bun.spawn(["bun", MAIN, ...args], {
    env: env(dbPath, addr),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
  return { code, stderr };
}

test("a second tack on the same database refuses in one line naming it and the holder (#15)", async () => {
  const dir = tempDir();
  const db = join(dir, "tack.db");
  const first = await serve(db);
  const second = await refused(db, "127.0.0.1:0");
  expect(second.code).toBe(1);
  expect(second.stderr.trim().split("\n")).toHaveLength(1);
  expect(second.stderr).toStartWith(
    `tack: database ${db} is in use by another tack (pid ${first.child.pid}, serving on 127.0.0.1:0 since `,
  );
  // The first is untouched and still serving.
  expect((await fetch(`http://127.0.0.1:${first.port}/healthz`)).status).toBe(200);
});

test("a second tack on the same port refuses instead of sharing it (#15)", async () => {
  const first = await serve(join(tempDir(), "tack.db"));
  const second = await refused(join(tempDir(), "tack.db"), `127.0.0.1:${first.port}`);
  expect(second.code).toBe(1);
  expect(second.stderr).toBe(
    `tack: cannot listen on 127.0.0.1:${first.port}: address already in use (another tack or another service is listening there)\n`,
  );
});

test("kill -9 leaves no stale lock, and backup works while tack runs (#15)", async () => {
  const dir = tempDir();
  const db = join(dir, "tack.db");
  const first = await serve(db);
  const backup = Bun.spawn(["bun", MAIN, "backup", join(dir, "copy.db")], {
    env: env(db, ":0"),
    stdout: "pipe",
  });
  expect(await backup.exited).toBe(0);
  expect(existsSync(join(dir, "copy.db"))).toBe(true);

  first.child.kill("SIGKILL");
  await first.child.exited;
  const again = await serve(db);
  expect((await fetch(`http://127.0.0.1:${again.port}/healthz`)).status).toBe(200);
});

test("in one process too, a second service on the database is refused and the first keeps it", async () => {
  const dir = tempDir();
  await using first = await startTestTack({ dir });
  const error = await startTestTack({ dir }).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(DatabaseInUseError);
  expect((await fetch(`${first.http}/healthz`)).status).toBe(200);
});

test("a database that cannot be opened: exit 1 and one line naming its path (#15)", async () => {
  const db = join(tempDir(), "missing-dir", "tack.db");
  const result = await refused(db, "127.0.0.1:0");
  expect(result.code).toBe(1);
  const lines = result.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toStartWith(`tack: cannot open database ${db}: `);
});
