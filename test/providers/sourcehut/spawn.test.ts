/**
 * Submitting: one job per workflow with the manifest as written plus tack's variables; a
 * refusal fails the workflow with sourcehut's reason; an unclear answer or a stop mid-submit
 * never leads to a second job (the job is found by its note, tags and correlation id first).
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { SpawnAttempts } from "../../../src/providers/spawn-attempts.ts";
import { tempDir } from "../../helpers/tack.ts";
import {
  dispatchSourcehut,
  MANIFEST,
  newWorkflowId,
  SHA,
  sourcehutProvider,
  startFakeSourcehut,
  statusesOf,
  until,
} from "./harness.ts";

describe("sourcehut spawn", () => {
  test("submits the manifest as written with tack's variables, the Go tack's note and tags", async () => {
    const sourcehut = startFakeSourcehut();
    const tack = sourcehutProvider(sourcehut);
    const id = newWorkflowId();
    expect(
      await dispatchSourcehut(
        tack,
        id,
        { manifest: MANIFEST },
        { TACK_SECRETS_TOKEN: "one-time-abcdef" },
      ),
    ).toBe("spawned");
    const job = sourcehut.lastJob();
    expect(sourcehut.jobs.size).toBe(1);
    expect(
      job.manifest.startsWith("image: alpine/edge\n# the author's comment stays\nenvironment:\n"),
    ).toBe(true);
    expect(job.environment).toMatchObject({
      GREETING: "hello",
      TACK_KNOT: id.knot,
      TACK_PIPELINE_RKEY: id.pipelineRkey,
      TACK_WORKFLOW: id.name,
      TACK_COMMIT: SHA,
      TACK_BRANCH: "main",
      TACK_SECRETS_TOKEN: "one-time-abcdef",
    });
    expect(String(job.environment.TACK_CORRELATION_ID)).toMatch(/^tack-[0-9a-f-]{36}$/);
    expect(job).toMatchObject({
      note: `tangled: ci.yml @ ${SHA.slice(0, 7)}`,
      tags: ["tack"],
      secrets: false,
      visibility: "UNLISTED",
      status: "QUEUED",
    });
    expect(tack.workflows.get(id)?.status).toBe("pending");
    expect(sourcehut.problems).toEqual([]);
    // Spawning the same workflow again (a recovered dispatch) finds the job it has.
    await tack.provider.spawn(tack.workflows.get(id) ?? expect.unreachable(), {});
    expect(sourcehut.jobs.size).toBe(1);
  });

  test("a job sourcehut refuses fails the workflow with sourcehut's reason, once", async () => {
    const sourcehut = startFakeSourcehut();
    sourcehut.paidAccount = false;
    const tack = sourcehutProvider(sourcehut);
    const id = newWorkflowId();
    expect(await dispatchSourcehut(tack, id)).toBe("spawn-failed");
    expect(statusesOf(tack.store, id)).toEqual([
      { status: "pending" },
      {
        status: "failed",
        error: `builds.sr.ht (${sourcehut.url}) refused the job: A paid account is required to submit builds`,
      },
    ]);
    expect(sourcehut.callsTo("submit")).toHaveLength(1);
  });

  test("bad options fail the workflow naming the option, without calling sourcehut", async () => {
    const sourcehut = startFakeSourcehut();
    const tack = sourcehutProvider(sourcehut);
    const id = newWorkflowId();
    expect(
      await dispatchSourcehut(tack, id, { manifest: "image: a\ntasks:\n  - Build: x\n" }),
    ).toBe("rejected");
    expect(statusesOf(tack.store, id).at(-1)?.error).toContain(
      'tack.sourcehut.manifest: tasks: invalid task name "Build"',
    );
    expect(sourcehut.calls).toEqual([]);
  });

  test("a submit answered 502 after sourcehut made the job is never sent again blindly", async () => {
    const sourcehut = startFakeSourcehut();
    const tack = sourcehutProvider(sourcehut);
    const id = newWorkflowId();
    // Right after tack's job, one made by hand for the same workflow and commit: same note
    // and tags, listed first (newer), not tack's.
    let decoy = 0;
    sourcehut.onSubmit = (job) => {
      sourcehut.onSubmit = undefined;
      decoy = sourcehut.seedJob({ manifest: MANIFEST, note: job.note, tags: job.tags }).id;
    };
    sourcehut.failNext("submit", 502, 1, { thenPerform: true });
    expect(await dispatchSourcehut(tack, id)).toBe("spawned");
    expect(sourcehut.jobsFor(id.pipelineRkey, id.name)).toHaveLength(1);
    expect(sourcehut.callsTo("submit")).toHaveLength(1);
    expect(sourcehut.jobs.size).toBe(2);
    // Both candidates' manifests were read; the one carrying the correlation id was taken.
    expect(sourcehut.callsTo("manifest").map((call) => call.variables.id)).toContain(decoy);
    const linked = sourcehut.jobsFor(id.pipelineRkey, id.name)[0];
    sourcehut.start(linked?.id ?? 0);
    await until(() => tack.workflows.get(id)?.status === "running", "the found job is followed");
    expect(
      tack.logs.some((line) => line.msg === "sourcehut: found the job an earlier submit created"),
    ).toBe(true);
  });

  test("a submit answered 502 that made nothing is sent again after the list shows nothing", async () => {
    const sourcehut = startFakeSourcehut();
    sourcehut.failNext("submit", 502, 1);
    const tack = sourcehutProvider(sourcehut);
    const id = newWorkflowId();
    expect(await dispatchSourcehut(tack, id)).toBe("spawned");
    expect(sourcehut.callsTo("submit")).toHaveLength(2);
    expect(sourcehut.jobsFor(id.pipelineRkey, id.name)).toHaveLength(1);
  });

  test("tack stopped while sourcehut held the answer: the next start finds the job", async () => {
    const sourcehut = startFakeSourcehut();
    const path = join(tempDir(), "tack.db");
    const first = sourcehutProvider(sourcehut, { path });
    const id = newWorkflowId();
    const held = sourcehut.holdNextSubmit();
    const dispatched = dispatchSourcehut(first, id);
    await held.submitted;
    // tack dies here: the job exists, tack never heard. A second process on the same database…
    const second = sourcehutProvider(sourcehut, { path });
    const workflow = second.workflows.get(id);
    expect(workflow?.spawned).toBe(false);
    await second.provider.spawn(workflow ?? expect.unreachable(), {});
    expect(sourcehut.jobsFor(id.pipelineRkey, id.name)).toHaveLength(1);
    expect(new SpawnAttempts(second.database.db, second.writer).count("sourcehut", id)).toBe(2);
    held.release();
    await dispatched;
    expect(sourcehut.jobsFor(id.pipelineRkey, id.name)).toHaveLength(1);
    await first.stop();
    await second.stop();
  });

  test("the poller carries the job to its end: pending, running, success", async () => {
    const sourcehut = startFakeSourcehut();
    const tack = sourcehutProvider(sourcehut);
    const id = newWorkflowId();
    await dispatchSourcehut(tack, id);
    const job = sourcehut.lastJob();
    sourcehut.start(job.id);
    await until(() => tack.workflows.get(id)?.status === "running", "running");
    sourcehut.runToEnd(job.id, "FAILED");
    await until(() => tack.workflows.get(id)?.status === "failed", "failed");
    expect(statusesOf(tack.store, id)).toEqual([
      { status: "pending" },
      { status: "running" },
      {
        status: "failed",
        error: `builds.sr.ht job #${job.id} task test failed (${sourcehut.url})`,
      },
    ]);
  });
});
