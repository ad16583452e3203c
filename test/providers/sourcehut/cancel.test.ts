/**
 * Cancel: a running job is cancelled at once; a queued one (which builds.sr.ht will not cancel)
 * the moment it starts, even across a restart; a finished one is left alone; a refusal is a
 * CancelError saying what to fix. The provider never publishes a status for it.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { CancelError } from "../../../src/providers/provider.ts";
import { SOURCEHUT_TOKEN } from "../../helpers/fake-sourcehut.ts";
import { tempDir } from "../../helpers/tack.ts";
import {
  dispatchSourcehut,
  newWorkflowId,
  sourcehutProvider,
  startFakeSourcehut,
  statusesOf,
  until,
} from "./harness.ts";

describe("sourcehut cancel", () => {
  test("a running job is cancelled on sourcehut; no status is published for it", async () => {
    const sourcehut = startFakeSourcehut();
    // No poll of its own in the test's time: only what cancel does can show.
    const tack = sourcehutProvider(sourcehut, {
      tuning: { minPollMs: 600_000, maxPollMs: 600_000 },
    });
    const id = newWorkflowId();
    await dispatchSourcehut(tack, id);
    const job = sourcehut.lastJob();
    sourcehut.start(job.id);
    await tack.provider.resume(tack.workflows.unfinished("sourcehut"));
    await until(() => tack.workflows.get(id)?.status === "running", "running");
    await tack.provider.cancel(tack.workflows.get(id) ?? expect.unreachable());
    expect(sourcehut.job(job.id).status).toBe("CANCELLED");
    expect(sourcehut.callsTo("cancel")).toHaveLength(1);
    expect(statusesOf(tack.store, id)).toEqual([{ status: "pending" }, { status: "running" }]);
  });

  test("a queued job is cancelled as soon as it starts, even after a restart", async () => {
    const sourcehut = startFakeSourcehut();
    const path = join(tempDir(), "tack.db");
    const first = sourcehutProvider(sourcehut, { path });
    const id = newWorkflowId();
    await dispatchSourcehut(first, id);
    const job = sourcehut.lastJob();
    await first.provider.cancel(first.workflows.get(id) ?? expect.unreachable());
    // builds.sr.ht cannot cancel a queued job: tack did not ask it to.
    expect(sourcehut.callsTo("cancel")).toHaveLength(0);
    expect(sourcehut.job(job.id).status).toBe("QUEUED");
    await first.stop();
    const second = sourcehutProvider(sourcehut, { path });
    await second.provider.resume(second.workflows.unfinished("sourcehut"));
    sourcehut.start(job.id);
    await until(
      () => second.logs.some((line) => line.msg === "sourcehut: cancelled a job once it started"),
      "the poller cancelled it once it ran",
    );
    expect(sourcehut.job(job.id).status).toBe("CANCELLED");
    await until(() => second.workflows.get(id)?.status === "cancelled", "the poll reports it");
  });

  test("a finished job is left alone; a job whose submit is under way is cancelled once it runs", async () => {
    const sourcehut = startFakeSourcehut();
    const tack = sourcehutProvider(sourcehut);
    const done = newWorkflowId("done.yml");
    await dispatchSourcehut(tack, done);
    sourcehut.runToEnd(sourcehut.lastJob().id);
    await tack.provider.cancel(tack.workflows.get(done) ?? expect.unreachable());
    expect(sourcehut.callsTo("cancel")).toHaveLength(0);

    const pending = newWorkflowId("pending.yml");
    const held = sourcehut.holdNextSubmit();
    const dispatched = dispatchSourcehut(tack, pending);
    const job = await held.submitted;
    await tack.provider.cancel(tack.workflows.get(pending) ?? expect.unreachable());
    held.release();
    await dispatched;
    sourcehut.start(job.id);
    await until(() => sourcehut.job(job.id).status === "CANCELLED", "cancelled once running");
  });

  test("a cancel sourcehut refuses is a CancelError naming the token's grant", async () => {
    const sourcehut = startFakeSourcehut();
    const tack = sourcehutProvider(sourcehut);
    const id = newWorkflowId();
    await dispatchSourcehut(tack, id);
    sourcehut.start(sourcehut.lastJob().id);
    // The token loses JOBS:RW after the job started.
    const identity = sourcehut.tokens.get(SOURCEHUT_TOKEN) ?? expect.unreachable();
    identity.grants = { JOBS: "RO", LOGS: "RO" };
    const error = await tack.provider
      .cancel(tack.workflows.get(id) ?? expect.unreachable())
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CancelError);
    expect((error as Error).message).toContain(
      `could not cancel builds.sr.ht job #${sourcehut.lastJob().id}`,
    );
    expect((error as Error).message).toContain("builds.sr.ht/JOBS:RW");
    expect(sourcehut.lastJob().status).toBe("RUNNING");
  });
});
