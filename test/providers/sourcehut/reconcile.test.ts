/**
 * The poller: an interval that grows while a job does not change and starts over when it does,
 * due jobs asked about in one request, a schedule that survives a restart, and the give-ups
 * (a job sourcehut no longer shows, one that never changes). Completion nudges only make the
 * poll come sooner.
 */

import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { SourcehutJobs } from "../../../src/providers/sourcehut/builds.ts";
import { fastClock } from "../../helpers/clock.ts";
import { tempDir } from "../../helpers/tack.ts";
import {
  dispatchSourcehut,
  newWorkflowId,
  sourcehutProvider,
  startFakeSourcehut,
  statusesOf,
  until,
} from "./harness.ts";

function rowOf(tack: ReturnType<typeof sourcehutProvider>, id: ReturnType<typeof newWorkflowId>) {
  return new SourcehutJobs(tack.database.db, tack.writer, tack.clock).latestFor(id);
}

async function intervals(
  tack: ReturnType<typeof sourcehutProvider>,
  id: ReturnType<typeof newWorkflowId>,
  until_: number,
): Promise<number[]> {
  const seen: number[] = [];
  const deadline = Date.now() + 15_000;
  while (seen.at(-1) !== until_) {
    if (Date.now() > deadline) throw new Error(`intervals stuck at ${seen.join(", ")}`);
    const interval = rowOf(tack, id)?.pollIntervalMs;
    if (interval !== undefined && interval !== seen.at(-1)) seen.push(interval);
    await Bun.sleep(2);
  }
  return seen;
}

describe("sourcehut poller", () => {
  test("the interval grows by half while nothing changes, up to the bound, and starts over on a change", async () => {
    const sourcehut = startFakeSourcehut();
    const tack = sourcehutProvider(sourcehut);
    const id = newWorkflowId();
    await dispatchSourcehut(tack, id);
    // Queued and unchanged: 200 (first) → 300 → 450 → 675 → 1000 (bound) on the fast clock.
    expect(await intervals(tack, id, 1_000)).toEqual([200, 300, 450, 675, 1_000]);
    sourcehut.start(sourcehut.lastJob().id);
    await until(() => rowOf(tack, id)?.state === "running", "running seen");
    expect(rowOf(tack, id)?.pollIntervalMs).toBe(200);
    expect(tack.workflows.get(id)?.status).toBe("running");
  });

  test("due jobs are asked about together, in one GraphQL request", async () => {
    const sourcehut = startFakeSourcehut();
    const tack = sourcehutProvider(sourcehut, {
      tuning: { minPollMs: 600_000, maxPollMs: 600_000 },
    });
    const ids = [newWorkflowId("a.yml"), newWorkflowId("b.yml"), newWorkflowId("c.yml")];
    await Promise.all(ids.map((id) => dispatchSourcehut(tack, id)));
    for (const job of sourcehut.jobs.values()) sourcehut.start(job.id);
    // Submitted at different moments; a restart makes all three due at once.
    await tack.provider.resume(tack.workflows.unfinished("sourcehut"));
    await until(
      () => ids.every((id) => tack.workflows.get(id)?.status === "running"),
      "all three running",
    );
    const batched = sourcehut
      .callsTo("poll")
      .some((call) => Object.keys(call.variables).length === 3);
    expect(batched).toBe(true);
    expect(sourcehut.callsTo("poll")).toHaveLength(1);
  });

  test("a batch of jobs found finished is applied side by side, not a second per job", async () => {
    const sourcehut = startFakeSourcehut();
    // A clock ten times real time: one status per workflow per whole second still holds.
    const tack = sourcehutProvider(sourcehut, {
      clock: fastClock(10),
      tuning: { minPollMs: 600_000, maxPollMs: 600_000, idleWakeMs: 600_000 },
    });
    const ids = Array.from({ length: 10 }, (_, i) => newWorkflowId(`w${i}.yml`));
    await Promise.all(ids.map((id) => dispatchSourcehut(tack, id)));
    for (const job of sourcehut.jobs.values()) sourcehut.runToEnd(job.id);
    await tack.provider.resume(tack.workflows.unfinished("sourcehut"));
    await until(
      () => ids.every((id) => tack.workflows.get(id)?.status === "success"),
      "all ten finished",
    );
    // Each job passes through running, so its success waits for the next whole second. One
    // after the other, ten jobs would finish in ten different seconds.
    const seconds = new Set(
      tack.store
        .after(0n, 1_000)
        .map((row) => JSON.parse(row.event) as { status: string; createdAt: string })
        .filter((record) => record.status === "success")
        .map((record) => record.createdAt),
    );
    expect(seconds.size).toBeLessThan(ids.length);
    expect(sourcehut.callsTo("poll")).toHaveLength(1);
  });

  test("the schedule is on disk, and a restart polls every open job at once", async () => {
    const sourcehut = startFakeSourcehut();
    const path = join(tempDir(), "tack.db");
    // Ten minutes to the first poll: without the restart's resume, nothing would happen here.
    const slow = { minPollMs: 600_000, maxPollMs: 6_000_000 };
    const first = sourcehutProvider(sourcehut, { path, tuning: slow });
    const id = newWorkflowId();
    await dispatchSourcehut(first, id);
    const submittedAt = first.clock.now();
    await first.stop();
    const disk = new Database(path, { readonly: true });
    const stored = disk
      .query<{ interval: number; next: number }, []>(
        "SELECT poll_interval_ms AS interval, next_poll_at AS next FROM sourcehut_jobs",
      )
      .get();
    disk.close();
    expect(stored?.interval).toBe(600_000);
    expect(stored?.next).toBeGreaterThanOrEqual(submittedAt + 600_000 - 1_000);
    expect(sourcehut.callsTo("poll")).toHaveLength(0);
    const second = sourcehutProvider(sourcehut, { path, tuning: slow });
    await second.provider.resume(second.workflows.unfinished("sourcehut"));
    await until(() => rowOf(second, id)?.state === "queued", "polled after the restart");
    expect(second.clock.now()).toBeLessThan(stored?.next ?? 0);
    expect(sourcehut.callsTo("poll")).toHaveLength(1);
  });

  test("a job sourcehut no longer shows fails its workflow", async () => {
    const sourcehut = startFakeSourcehut();
    const tack = sourcehutProvider(sourcehut);
    const id = newWorkflowId();
    await dispatchSourcehut(tack, id);
    const job = sourcehut.lastJob();
    sourcehut.jobs.delete(job.id);
    await until(() => rowOf(tack, id)?.state === "tack:lost", "the job closed as lost");
    expect(statusesOf(tack.store, id).at(-1)).toEqual({
      status: "failed",
      error: `builds.sr.ht no longer shows job #${job.id} to tack's token`,
    });
  });

  test("a job on an instance tack no longer names fails its workflow instead of being polled", async () => {
    const sourcehut = startFakeSourcehut();
    const elsewhere = startFakeSourcehut();
    const path = join(tempDir(), "tack.db");
    const first = sourcehutProvider(sourcehut, { path });
    const id = newWorkflowId();
    await dispatchSourcehut(first, id);
    await first.stop();
    const polls = sourcehut.callsTo("poll").length;
    const second = sourcehutProvider(elsewhere, { path });
    await second.provider.resume(second.workflows.unfinished("sourcehut"));
    await until(() => rowOf(second, id)?.state === "tack:lost", "closed");
    expect(statusesOf(second.store, id).at(-1)).toEqual({
      status: "failed",
      error: `${sourcehut.url} is no longer one of this spindle's builds.sr.ht instances`,
    });
    expect(sourcehut.callsTo("poll")).toHaveLength(polls);
    expect(elsewhere.calls).toEqual([]);
  });

  test("a job that never changes is given up on after abandonAfterMs", async () => {
    const sourcehut = startFakeSourcehut();
    const tack = sourcehutProvider(sourcehut, { tuning: { abandonAfterMs: 3_000 } });
    const id = newWorkflowId();
    await dispatchSourcehut(tack, id);
    await until(() => tack.workflows.get(id)?.status === "failed", "abandoned");
    expect(statusesOf(tack.store, id).at(-1)?.error).toContain("showed no change");
  });

  test("a poll that fails backs off and tries again; nothing is published for it", async () => {
    const sourcehut = startFakeSourcehut();
    const tack = sourcehutProvider(sourcehut);
    const id = newWorkflowId();
    await dispatchSourcehut(tack, id);
    sourcehut.failNext("poll", 500, 6);
    sourcehut.start(sourcehut.lastJob().id);
    await until(() => tack.workflows.get(id)?.status === "running", "running after failures");
    expect(statusesOf(tack.store, id)).toEqual([{ status: "pending" }, { status: "running" }]);
    expect(tack.logs.some((line) => line.msg === "sourcehut poll: request failed")).toBe(true);
  });
});

describe("completion nudges (POST /webhooks/sourcehut)", () => {
  const nudge = (body: unknown) => ({
    headers: new Headers({ "content-type": "application/json" }),
    body: new TextEncoder().encode(typeof body === "string" ? body : JSON.stringify(body)),
  });

  test("a nudge for tack's job polls it now; the poll, not the body, moves the workflow", async () => {
    const sourcehut = startFakeSourcehut();
    const clock = fastClock();
    const tack = sourcehutProvider(sourcehut, {
      clock,
      tuning: { minPollMs: 600_000, maxPollMs: 600_000 },
    });
    const id = newWorkflowId();
    await dispatchSourcehut(tack, id);
    const job = sourcehut.lastJob();
    sourcehut.runToEnd(job.id, "SUCCESS");
    const webhook = tack.provider.webhook ?? expect.unreachable();
    // A lie in the body changes nothing: tack asks sourcehut.
    const sent = clock.now();
    const answer = await webhook(nudge({ id: job.id, status: "failed", note: job.note }));
    expect(answer).toEqual({ status: 200, body: "polling", result: "accepted" });
    await until(() => tack.workflows.get(id)?.status === "success", "success after the nudge");
    expect(clock.now() - sent).toBeLessThan(600_000);
    expect(await webhook(nudge({ id: job.id, status: "success", note: job.note }))).toMatchObject({
      status: 200,
      result: "duplicate",
    });
  });

  test("the webhook's contract: 400, 200 ignored, 401, and a second nudge at once is one poll", async () => {
    const sourcehut = startFakeSourcehut();
    const tack = sourcehutProvider(sourcehut, {
      tuning: { minPollMs: 600_000, maxPollMs: 600_000 },
    });
    const id = newWorkflowId();
    await dispatchSourcehut(tack, id);
    const job = sourcehut.lastJob();
    const webhook = tack.provider.webhook ?? expect.unreachable();
    expect(await webhook(nudge("{not json"))).toMatchObject({ status: 400, result: "bad_request" });
    expect(await webhook(nudge({ id: "x" }))).toMatchObject({ status: 400, result: "bad_request" });
    expect(await webhook(nudge({ id: 7, status: "success", note: "x" }))).toMatchObject({
      status: 200,
      result: "ignored",
    });
    expect(await webhook(nudge({ id: job.id, status: "success", note: "forged" }))).toMatchObject({
      status: 401,
      result: "unauthorized",
    });
    const polls = sourcehut.callsTo("poll").length;
    expect(await webhook(nudge({ id: job.id, status: "success", note: job.note }))).toMatchObject({
      result: "accepted",
    });
    expect(await webhook(nudge({ id: job.id, status: "success", note: job.note }))).toMatchObject({
      result: "duplicate",
    });
    await until(() => rowOf(tack, id)?.state === "queued", "the nudged poll applied");
    expect(sourcehut.callsTo("poll")).toHaveLength(polls + 1);
  });
});
