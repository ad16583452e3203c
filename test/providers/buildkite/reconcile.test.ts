/**
 * Reconciliation: webhooks can be lost, and tack can be down when they come.
 * A quiet build is polled, every unfinished build is polled at start, and polling holds back
 * while Buildkite's rate-limit budget is nearly spent.
 */

import { Database } from "bun:sqlite";
import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { FakeBuildkite } from "../../helpers/fake-buildkite.ts";
import { tempDir } from "../../helpers/tack.ts";
import { fastClock, startHarness, TOKEN } from "./harness.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

const BUILD_GET = /\/builds\/\d+$/;
const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const step of cleanup.splice(0)) step();
});

function sharedFake(): FakeBuildkite {
  const fake = FakeBuildkite.start(TOKEN);
  cleanup.push(() => fake.stop());
  return fake;
}

function sharedDir(): string {
  const dir = tempDir();
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("a build whose webhooks were lost is finished by a poll once it has been quiet", async () => {
  // 500× time: the 2-minute quiet period is a quarter of a second of real time.
  await using h = await startHarness({ clock: fastClock(500) });
  const { id } = await h.dispatch("ci.yml");
  const build = h.fake.onlyBuild();
  // Buildkite ran the build to the end, but no webhook ever reached tack.
  h.fake.update(build, { state: "running" });
  const [test1, lint] = h.fake.scriptJobs(build);
  if (!test1 || !lint) throw new Error("stand-in build has no jobs");
  h.fake.finishJob(test1);
  h.fake.finishJob(lint);
  h.fake.update(build, { state: "passed" });

  await h.until(() => h.workflow(id)?.status === "success", "success from a poll");
  expect(h.statuses(id).map((s) => s.status)).toEqual(["pending", "success"]);
  expect(h.fake.callsTo("GET", BUILD_GET).length).toBeGreaterThanOrEqual(1);
  // The row is written after the status commits (track.ts), so it may trail by a moment.
  await h.until(() => h.buildRows()[0]?.state === "passed", "the build row updated");
});

test("polls wait while the rate-limit budget is nearly spent, then catch up", async () => {
  await using h = await startHarness({ clock: fastClock(500) });
  // Buildkite says: 3 requests left in this window, which resets in 200 s.
  h.fake.rateLimit = { limit: 200, remaining: 3, reset: 200 };
  const { id } = await h.dispatch("ci.yml");
  h.fake.rateLimit = { limit: 200, remaining: 190, reset: 60 };
  h.fake.update(h.fake.onlyBuild(), { state: "failed" });

  await h.until(
    () =>
      h.service.logs.some((l) => l.msg === "buildkite: rate limit nearly spent, polls deferred"),
    "a sweep that held back",
  );
  expect(h.fake.callsTo("GET", BUILD_GET)).toHaveLength(0);
  expect(h.workflow(id)?.status).toBe("pending");

  await h.until(() => h.workflow(id)?.status === "failed", "the poll after the reset");
  expect(h.fake.callsTo("GET", BUILD_GET).length).toBeGreaterThanOrEqual(1);
});

test("a build in flight across a restart is finished from the API at start", async () => {
  const fake = sharedFake();
  const dir = sharedDir();
  const before = await startHarness({ fake, dir });
  const { id } = await before.dispatch("ci.yml");
  const build = fake.onlyBuild();
  fake.update(build, { state: "running" });
  expect((await before.send(fake.webhook("build.running", build))).status).toBe(200);
  expect(before.workflow(id)?.status).toBe("running");
  await before[Symbol.asyncDispose]();
  // While tack was down the build finished; its build.finished webhook got a refused
  // connection and Buildkite does not say whether it will ever retry.
  fake.update(build, { state: "passed" });
  for (const job of fake.scriptJobs(build)) fake.finishJob(job);

  await using after = await startHarness({ fake, dir });
  await after.until(() => after.workflow(id)?.status === "success", "success after restart");
  expect(after.statuses(id).map((s) => s.status)).toEqual(["pending", "running", "success"]);
  expect(after.service.logs).toContainEqual(
    expect.objectContaining({ msg: "tack: resuming unfinished workflows", provider: "buildkite" }),
  );
});

test("a build still running after a restart keeps going and finishes by webhook", async () => {
  const fake = sharedFake();
  const dir = sharedDir();
  const first = await startHarness({ fake, dir });
  const { id } = await first.dispatch("ci.yml");
  const build = fake.onlyBuild();
  fake.update(build, { state: "running" });
  await first[Symbol.asyncDispose]();

  await using after = await startHarness({ fake, dir });
  await after.until(() => after.workflow(id)?.status === "running", "running from the start poll");
  fake.update(build, { state: "passed" });
  expect((await after.send(fake.webhook("build.finished", build))).status).toBe(200);
  expect(after.statuses(id).map((s) => s.status)).toEqual(["pending", "running", "success"]);
});

test("a spawned workflow whose build reference is gone is found again by its meta_data", async () => {
  const fake = sharedFake();
  const dir = sharedDir();
  const first = await startHarness({ fake, dir });
  const { id } = await first.dispatch("ci.yml");
  await first[Symbol.asyncDispose]();
  const database = new Database(join(dir, "tack.db"));
  database.run("delete from buildkite_builds");
  database.close();
  fake.update(fake.onlyBuild(), { state: "canceled" });

  await using after = await startHarness({ fake, dir });
  await after.until(() => after.workflow(id)?.status === "cancelled", "cancelled after restart");
  const lookup = fake.callsTo("GET", /\/pipelines\/app-ci\/builds$/)[0];
  expect(lookup?.query.get("meta_data[tack:pipeline_rkey]")).toBe(id.pipelineRkey);
  await after.until(() => after.buildRows().length === 1, "the reference stored again");
  expect(after.buildRows()).toEqual([
    expect.objectContaining({ build_uuid: fake.onlyBuild().id, state: "canceled" }),
  ]);
});
