/**
 * Logs an operator can filter (#15): priorities journald understands, one name per field, and
 * a line when a workflow finishes. And /metrics carries process metrics and the build.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { BINARY_SCHEMA_VERSION } from "../../src/db/migrate.ts";
import { createLogger, type LineSink, stdoutLines } from "../../src/log.ts";
import { COMMIT, VERSION } from "../../src/version.ts";
import { startTestTack, tempDir } from "../helpers/tack.ts";

setDefaultTimeout(30_000);
const MAIN = join(import.meta.dir, "..", "..", "src", "main.ts");

/** Runs tack (which fails to open its database) with stdout in a file; returns that file. */
async function runWithStdoutFile(journalStream: (path: string) => string) {
  const dir = tempDir();
  const out = join(dir, "stdout");
  await Bun.write(out, "");
  const child = Bun.spawn(["bun", MAIN], {
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      TACK_HOSTNAME: "spindle.test",
      TACK_OWNER_DID: "did:plc:owner000000000000000000",
      TACK_DB_PATH: join(dir, "missing", "tack.db"),
      TACK_BOGUS: "1",
      JOURNAL_STREAM: journalStream(out),
    },
    stdout: Bun.file(out),
    stderr: "pipe",
  });
  expect(await child.exited).toBe(1);
  return (await Bun.file(out).text()).trim().split("\n");
}

test("under journald, each line starts with its syslog priority and the rest is plain JSON (#15)", async () => {
  const lines = await runWithStdoutFile((path) => {
    const stat = statSync(path);
    return `${stat.dev}:${stat.ino}`;
  });
  const warn = lines.find((line) => line.includes("config: unknown variable ignored"));
  const info = lines.find((line) => line.includes("tack: starting"));
  expect(warn).toStartWith("<4>{");
  expect(info).toStartWith("<6>{");
  expect(JSON.parse(warn?.slice(3) ?? "")).toMatchObject({ level: "warn", variable: "TACK_BOGUS" });
});

test("a JOURNAL_STREAM that is not our stdout (inherited by a child) adds no prefix", async () => {
  const lines = await runWithStdoutFile(() => "1:2");
  for (const line of lines) expect(line).toStartWith("{");
});

test("the logger prefixes every level and names errors `err`, with their causes", () => {
  const lines: string[] = [];
  const log = createLogger("debug", (line) => lines.push(line), {}, { journald: true });
  const cause = new Error("disk I/O error");
  log.error("db: commit failed", { error: new Error("cannot commit", { cause }) });
  log.debug("stream: connected");
  expect(lines[0]).toStartWith("<3>");
  expect(JSON.parse(lines[0]?.slice(3) ?? "")).toMatchObject({
    err: "cannot commit: disk I/O error",
  });
  expect(JSON.parse(lines[0]?.slice(3) ?? "")).not.toHaveProperty("error");
  expect(lines[1]).toStartWith("<7>");
});

test("a stdout whose reader went away is said once on stderr, then lines are dropped", () => {
  const written: string[] = [];
  const notices: string[] = [];
  let onError: ((error: Error) => void) | undefined;
  let closed = false;
  const sink: LineSink = {
    write: (line) => {
      if (closed) throw Object.assign(new Error("broken pipe, write"), { code: "EPIPE" });
      written.push(line);
    },
    on: (_event, listener) => {
      onError = listener;
    },
  };
  const write = stdoutLines(sink, (line) => notices.push(line));
  write("one\n");
  closed = true;
  write("two\n");
  write("three\n");
  onError?.(Object.assign(new Error("broken pipe"), { code: "EPIPE" }));
  expect(written).toEqual(["one\n"]);
  expect(notices).toEqual(["tack: stdout closed (EPIPE); log lines are dropped from now on\n"]);
});

/** tack from source on a fresh database, serving on a free port, stdout and stderr piped. */
function spawnServing(dir: string, bunFlags: string[] = []) {
  return Bun.spawn(["bun", ...bunFlags, MAIN, "-addr", "127.0.0.1:0"], {
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      TACK_HOSTNAME: "spindle.test",
      TACK_OWNER_DID: "did:plc:owner000000000000000000",
      TACK_DB_PATH: join(dir, "tack.db"),
      TACK_JETSTREAM_URL: "ws://127.0.0.1:9/",
      TACK_DEV: "true",
    },
    stdout: "pipe",
    stderr: "pipe",
  });
}

/** Reads JSON log lines from `reader` until `enough` says so; all of them, in order. */
async function readLogUntil(
  reader: { read(): Promise<{ value?: Uint8Array; done: boolean }> },
  enough: (lines: Record<string, unknown>[]) => boolean,
): Promise<Record<string, unknown>[]> {
  const lines: Record<string, unknown>[] = [];
  let text = "";
  while (!enough(lines)) {
    const { value, done } = await reader.read();
    if (done) throw new Error("tack's stdout ended first");
    text += new TextDecoder().decode(value);
    const complete = text.split("\n");
    text = complete.pop() ?? "";
    for (const line of complete) if (line) lines.push(JSON.parse(line));
  }
  return lines;
}

const portOf = (lines: Record<string, unknown>[]) =>
  Number(lines.find((line) => line.msg === "tack: listening")?.port ?? 0);

test("tack keeps serving when the reader of its stdout goes away", async () => {
  const child = spawnServing(tempDir());
  try {
    // Read up to the listening line, then close our end of the pipe.
    const reader = child.stdout.getReader();
    const port = portOf(await readLogUntil(reader, (lines) => portOf(lines) > 0));
    await reader.cancel();
    // Every rejected webhook logs a warning: each is a write to the closed pipe.
    for (let i = 0; i < 20; i++) {
      const response = await fetch(`http://127.0.0.1:${port}/webhooks/fake`, {
        method: "POST",
        body: "not json",
      });
      await response.text();
    }
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBeLessThan(600);
    expect(child.exitCode).toBeNull();
    child.kill("SIGTERM");
    expect(await child.exited).toBe(0);
    const stderr = await new Response(child.stderr).text();
    expect(stderr.match(/stdout closed/g)?.length ?? 0).toBeLessThanOrEqual(1);
    expect(stderr).not.toContain("    at ");
  } finally {
    child.kill("SIGKILL");
  }
});

test("an exception nobody caught is one error line, and tack keeps serving", async () => {
  const dir = tempDir();
  // A bug stand-in: once tack listens, a timer throws and a promise rejects unheard.
  const bug = join(dir, "bug.ts");
  await Bun.write(
    bug,
    'setTimeout(() => { throw new Error("boom in a timer"); }, 300);\n' +
      'setTimeout(() => { void Promise.reject(new Error("boom in a promise")); }, 300);\n',
  );
  const child = spawnServing(dir, ["--preload", bug]);
  try {
    const reader = child.stdout.getReader();
    const seen = (lines: Record<string, unknown>[], msg: string) =>
      lines.some((line) => line.msg === msg);
    const lines = await readLogUntil(
      reader,
      (read) => seen(read, "tack: uncaught exception") && seen(read, "tack: unhandled rejection"),
    );
    expect(lines.find((line) => line.msg === "tack: uncaught exception")).toMatchObject({
      level: "error",
      err: expect.stringContaining("boom in a timer"),
    });
    expect(lines.find((line) => line.msg === "tack: unhandled rejection")).toMatchObject({
      level: "error",
      err: expect.stringContaining("boom in a promise"),
    });
    const health = await fetch(`http://127.0.0.1:${portOf(lines)}/healthz`);
    expect(health.status).toBeLessThan(600);
    expect(child.exitCode).toBeNull();
    await reader.cancel();
  } finally {
    child.kill("SIGKILL");
  }
});

test("a workflow that finishes gets a line, with its status and error (#15)", async () => {
  await using service = await startTestTack();
  const id = { knot: "knot.test", pipelineRkey: "3m6mxh2znw222", name: "ci.yml" };
  await service.tack.workflows.create(
    id,
    { provider: "fake", options: {}, context: {} },
    "pending",
  );
  expect(service.logs.some((l) => l.msg === "workflow: finished")).toBe(false);
  await service.tack.workflows.transition(id, "failed", { error: "tests failed", exitCode: 2 });
  expect(service.logs.filter((l) => l.msg === "workflow: finished")).toEqual([
    expect.objectContaining({
      component: "workflow",
      knot: "knot.test",
      pipeline_rkey: "3m6mxh2znw222",
      workflow: "ci.yml",
      status: "failed",
      err: "tests failed",
      exit_code: 2,
    }),
  ]);
});

test("/metrics carries process metrics and tack_build_info (#15)", async () => {
  await using service = await startTestTack();
  const text = await (await fetch(`${service.http}/metrics`)).text();
  expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
  expect(text).toMatch(/^process_open_fds \d+/m);
  expect(text).toMatch(/^process_start_time_seconds \d+/m);
  expect(text).toContain(
    `tack_build_info{version="${VERSION}",commit="${COMMIT}",schema_version="${BINARY_SCHEMA_VERSION}"} 1`,
  );
});
