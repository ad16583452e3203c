/**
 * A job's logs as tack streams them: the master log in block 0, then each task in its own
 * block, read by byte offset as they grow (no line lost or repeated, UTF-8 intact across
 * reads), escapes removed, and a token without LOGS:RO refused with a clear error instead of
 * blank logs.
 */
import { describe, expect, test } from "bun:test";
import type { LogLine } from "../../../src/providers/provider.ts";
import { LogsScopeError } from "../../../src/providers/sourcehut/logs.ts";
import { NO_LOGS_TOKEN } from "../../helpers/fake-sourcehut.ts";
import {
  dispatchSourcehut,
  newWorkflowId,
  sourcehutProvider,
  startFakeSourcehut,
  until,
} from "./harness.ts";

/** Reads the stream into `lines` in the background; resolves when it ends. */
function drain(stream: AsyncIterable<LogLine>, lines: LogLine[]): Promise<void> {
  return (async () => {
    for await (const line of stream) lines.push(line);
  })();
}

const step = (lines: LogLine[], id: number) =>
  lines
    .filter((line) => line.step_id === id)
    .map((line) =>
      line.kind === "control" ? `${line.step_status}:${line.content}` : line.content,
    );

describe("sourcehut logs", () => {
  test("master log, then each task, followed live until the job ends", async () => {
    const sourcehut = startFakeSourcehut();
    const tack = sourcehutProvider(sourcehut);
    const id = newWorkflowId();
    await dispatchSourcehut(tack, id);
    const job = sourcehut.lastJob();
    const workflow = tack.workflows.get(id) ?? expect.unreachable();
    const lines: LogLine[] = [];
    const done = drain(await tack.provider.logs(workflow, new AbortController().signal), lines);
    await until(() => lines.length >= 2, "the header while queued");
    sourcehut.start(job.id);
    await until(() => step(lines, 0).includes("Waiting for guest to settle"), "master log");
    sourcehut.runTask(job.id, "build");
    sourcehut.appendLog(job.id, "build", "+ echo build\r\n\u001b[1;32mbui");
    await until(() => step(lines, 1).includes("+ echo build"), "first task line");
    sourcehut.appendLog(job.id, "build", "ld ok\u001b[0m\r\nprogress 10%\rprogress 100%\r\n");
    sourcehut.finishTask(job.id, "build", "SUCCESS");
    sourcehut.runTask(job.id, "test");
    sourcehut.appendLog(job.id, "test", "no newline at the end");
    sourcehut.finishTask(job.id, "test", "FAILED");
    sourcehut.finish(job.id, "FAILED");
    await done;

    expect(lines[0]).toMatchObject({ kind: "control", step_id: 0, step_status: "start" });
    expect(lines[0]).not.toHaveProperty("step_kind");
    expect(step(lines, 0)).toEqual([
      `start:builds.sr.ht job #${job.id}`,
      `builds.sr.ht job #${job.id} on ${sourcehut.url}`,
      "Booting image alpine/edge (default) on arch x86_64",
      "Waiting for guest to settle",
      "Running task build",
      "Running task test",
      `end:builds.sr.ht job #${job.id}`,
    ]);
    expect(step(lines, 1)).toEqual([
      "start:build",
      "+ echo build",
      "build ok",
      "progress 100%",
      "end:build",
    ]);
    expect(step(lines, 2)).toEqual(["start:test", "no newline at the end", "end:test"]);
    // The runner's stamp is the master lines' time.
    const booting = lines.find((line) => line.content.startsWith("Booting"));
    expect(booting?.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(lines.find((line) => line.step_id === 1 && line.kind === "control")).toMatchObject({
      step_kind: 1,
    });
    expect(sourcehut.problems).toEqual([]);
  });

  test("small reads: multi-byte characters split between reads arrive whole, nothing twice", async () => {
    const sourcehut = startFakeSourcehut();
    const tack = sourcehutProvider(sourcehut, { tuning: { logChunkBytes: 5 } });
    const id = newWorkflowId();
    await dispatchSourcehut(tack, id);
    const job = sourcehut.lastJob();
    sourcehut.start(job.id);
    sourcehut.runTask(job.id, "build");
    const text = "héllo wörld ✓ 日本語\r\nzweite Zeile – ok\r\n";
    sourcehut.appendLog(job.id, "build", text);
    sourcehut.finishTask(job.id, "build", "SUCCESS");
    sourcehut.finishTask(job.id, "test", "SKIPPED");
    sourcehut.finish(job.id, "SUCCESS");
    const lines: LogLine[] = [];
    await drain(
      await tack.provider.logs(
        tack.workflows.get(id) ?? expect.unreachable(),
        new AbortController().signal,
      ),
      lines,
    );
    expect(step(lines, 1)).toEqual([
      "start:build",
      "héllo wörld ✓ 日本語",
      "zweite Zeile – ok",
      "end:build",
    ]);
    expect(step(lines, 2)).toEqual(["start:test", "skipped", "end:test"]);
    const reads = sourcehut.callsTo("log").filter((call) => call.path.endsWith("/build/log"));
    expect(reads.length).toBeGreaterThan(new TextEncoder().encode(text).length / 5);
  });

  test("a token without LOGS:RO is refused with what to fix, before any upgrade", async () => {
    const sourcehut = startFakeSourcehut();
    const tack = sourcehutProvider(sourcehut, { token: NO_LOGS_TOKEN });
    const id = newWorkflowId();
    await dispatchSourcehut(tack, id);
    sourcehut.start(sourcehut.lastJob().id);
    const workflow = tack.workflows.get(id) ?? expect.unreachable();
    const error = await tack.provider
      .logs(workflow, new AbortController().signal)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LogsScopeError);
    expect((error as Error).message).toContain("lacks builds.sr.ht/LOGS:RO");
    expect((error as Error).message).toContain("TACK_SOURCEHUT_TOKEN");
    expect((error as Error).message).not.toContain(NO_LOGS_TOKEN);
    // Even where sourcehut would serve the file to such a token, tack asks GraphQL first.
    sourcehut.logScopeChecked = false;
    await expect(tack.provider.logs(workflow, new AbortController().signal)).rejects.toThrow(
      LogsScopeError,
    );
    expect(sourcehut.callsTo("log")).toEqual([]);
  });

  test("a workflow whose job sourcehut lost shows its error and ends", async () => {
    const sourcehut = startFakeSourcehut();
    const tack = sourcehutProvider(sourcehut);
    const id = newWorkflowId();
    await dispatchSourcehut(tack, id);
    const job = sourcehut.lastJob();
    sourcehut.jobs.delete(job.id);
    await until(() => tack.workflows.get(id)?.status === "failed", "failed");
    const lines: LogLine[] = [];
    await drain(
      await tack.provider.logs(
        tack.workflows.get(id) ?? expect.unreachable(),
        new AbortController().signal,
      ),
      lines,
    );
    expect(step(lines, 0)).toEqual([
      "start:builds.sr.ht job",
      `builds.sr.ht no longer shows job #${job.id} to tack's token`,
      "end:builds.sr.ht job",
    ]);
  });

  test("an abort ends a stream whose job is still queued (the reader's loop is gone)", async () => {
    const sourcehut = startFakeSourcehut();
    const tack = sourcehutProvider(sourcehut);
    const id = newWorkflowId();
    await dispatchSourcehut(tack, id);
    const abort = new AbortController();
    const lines: LogLine[] = [];
    const done = drain(
      await tack.provider.logs(tack.workflows.get(id) ?? expect.unreachable(), abort.signal),
      lines,
    );
    await until(() => lines.length >= 2, "header");
    abort.abort();
    // The job never ends here: only the abort can end the stream.
    await done;
    expect(sourcehut.lastJob().status).toBe("QUEUED");
  });
});
