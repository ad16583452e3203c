/**
 * POST /webhooks/buildkite end to end: signed deliveries move a spawned
 * workflow through Tangled's statuses; duplicates, late and early deliveries never regress or
 * double it; every refused delivery answers its status code and writes nothing.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { systemClock } from "../../../src/clock.ts";
import finishedFixture from "../../fixtures/buildkite/build.finished.json";
import runningFixture from "../../fixtures/buildkite/build.running.json";
import type { FakeBuild, FakeBuildkite } from "../../helpers/fake-buildkite.ts";
import { buildkiteHeaders, buildkiteSignature } from "../../helpers/sign-buildkite.ts";
import { startTestTack } from "../../helpers/tack.ts";
import { type Harness, SECRET, startHarness } from "./harness.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

async function spawned(h: Harness, name = "ci.yml") {
  const { id, outcome } = await h.dispatch(name);
  expect(outcome).toBe("spawned");
  const build = h.fake.buildFor(name);
  if (!build) throw new Error("no build created");
  return { id, build };
}

/** Moves the stand-in's build (and its jobs) to a state, as Buildkite would have. */
function settle(fake: FakeBuildkite, build: FakeBuild, state: string, jobState?: string) {
  fake.update(build, { state });
  const [first, second] = fake.scriptJobs(build);
  if (first && second && jobState) {
    fake.finishJob(first, "passed");
    fake.finishJob(second, jobState, jobState === "passed" ? 0 : 2);
  }
}

/** Everything a refused delivery must leave untouched. */
function snapshot(h: Harness) {
  return {
    events: h.eventCount(),
    deliveries: h.deliveryCount(),
    rows: JSON.stringify(h.buildRows(), (_key, value) =>
      typeof value === "bigint" ? value.toString() : value,
    ),
  };
}

describe("buildkite webhook state mapping", () => {
  const cases: {
    name: string;
    event: string;
    state: string;
    jobState?: string;
    blocked?: boolean;
    expected: { status: string; error?: string; exitCode?: number }[];
  }[] = [
    {
      name: "scheduled stays pending",
      event: "build.scheduled",
      state: "scheduled",
      expected: [{ status: "pending" }],
    },
    {
      name: "running → running",
      event: "build.running",
      state: "running",
      expected: [{ status: "pending" }, { status: "running" }],
    },
    {
      name: "failing → running",
      event: "build.failing",
      state: "failing",
      expected: [{ status: "pending" }, { status: "running" }],
    },
    {
      name: "blocked stays running, never success",
      event: "build.finished",
      state: "passed",
      blocked: true,
      expected: [{ status: "pending" }, { status: "running" }],
    },
    {
      name: "passed → success",
      event: "build.finished",
      state: "passed",
      jobState: "passed",
      expected: [{ status: "pending" }, { status: "success" }],
    },
    {
      name: "failed → failed with the build URL and the failing job's exit status",
      event: "build.finished",
      state: "failed",
      jobState: "failed",
      expected: [
        { status: "pending" },
        {
          status: "failed",
          error: "Buildkite build #1 failed: https://buildkite.com/acme/app-ci/builds/1",
          exitCode: 2,
        },
      ],
    },
    {
      name: "a timed-out job → timeout",
      event: "build.finished",
      state: "failed",
      jobState: "timed_out",
      expected: [
        { status: "pending" },
        {
          status: "timeout",
          error:
            'Buildkite build #1: job ":lint: Lint" timed out: https://buildkite.com/acme/app-ci/builds/1',
        },
      ],
    },
    {
      name: "canceled → cancelled",
      event: "build.finished",
      state: "canceled",
      expected: [
        { status: "pending" },
        {
          status: "cancelled",
          error: "Buildkite build #1 was canceled: https://buildkite.com/acme/app-ci/builds/1",
        },
      ],
    },
    {
      name: "skipped → cancelled with a reason",
      event: "build.skipped",
      state: "skipped",
      expected: [
        { status: "pending" },
        {
          status: "cancelled",
          error:
            "Buildkite build #1 was skipped by Buildkite (a newer build superseded it): https://buildkite.com/acme/app-ci/builds/1",
        },
      ],
    },
    {
      name: "not_run → cancelled with a reason",
      event: "build.finished",
      state: "not_run",
      expected: [
        { status: "pending" },
        {
          status: "cancelled",
          error:
            "Buildkite build #1 did not run: Buildkite skipped every step: https://buildkite.com/acme/app-ci/builds/1",
        },
      ],
    },
  ];

  for (const c of cases) {
    test(c.name, async () => {
      await using h = await startHarness();
      const { id, build } = await spawned(h);
      settle(h.fake, build, c.state, c.jobState);
      if (c.blocked) h.fake.update(build, { blocked: true });
      const response = await h.send(h.fake.webhook(c.event, build));
      expect(response).toEqual({ status: 200, body: "ok\n" });
      // The answer came after the commit: the status is already there.
      expect(h.statuses(id)).toEqual(c.expected);
      expect(h.buildRows()[0]?.state).toBe(c.blocked ? "blocked" : c.state);
    });
  }

  test("a whole build: scheduled, running, finished, one status each", async () => {
    await using h = await startHarness();
    const { id, build } = await spawned(h);
    expect((await h.send(h.fake.webhook("build.scheduled", build))).status).toBe(200);
    h.fake.update(build, { state: "running" });
    expect((await h.send(h.fake.webhook("build.running", build))).status).toBe(200);
    settle(h.fake, build, "passed", "passed");
    expect((await h.send(h.fake.webhook("build.finished", build))).status).toBe(200);
    expect(h.statuses(id).map((s) => s.status)).toEqual(["pending", "running", "success"]);
    expect(h.deliveryCount()).toBe(3);
  });

  test("the realistic fixtures are accepted as they are", async () => {
    await using h = await startHarness();
    const { id, build } = await spawned(h);
    const withIds = <F extends { build: object }>(fixture: F) => ({
      ...fixture,
      build: {
        ...fixture.build,
        id: build.id,
        number: build.number,
        url: `${h.fake.url}/v2/organizations/acme/pipelines/app-ci/builds/${build.number}`,
        meta_data: build.meta_data,
      },
    });
    h.fake.update(build, { state: "running" });
    expect((await h.send(withIds(runningFixture))).status).toBe(200);
    settle(h.fake, build, "passed", "passed");
    expect((await h.send(withIds(finishedFixture))).status).toBe(200);
    expect(h.statuses(id).map((s) => s.status)).toEqual(["pending", "running", "success"]);
  });

  test("a terminal state is confirmed from the API; if it cannot be read the payload stands", async () => {
    await using h = await startHarness();
    const { id, build } = await spawned(h);
    settle(h.fake, build, "passed", "passed");
    h.fake.answerNext("GET", /\/builds\/\d+$/, {
      status: 403,
      body: { message: "Your access token doesn't have the read_builds scope" },
    });
    expect((await h.send(h.fake.webhook("build.finished", build))).status).toBe(200);
    expect(h.fake.callsTo("GET", /\/builds\/1$/)).toHaveLength(1);
    expect(h.statuses(id).map((s) => s.status)).toEqual(["pending", "success"]);
  });
});

describe("buildkite webhook ordering", () => {
  test("a duplicate delivery is acknowledged as such and applied once", async () => {
    await using h = await startHarness();
    const { id, build } = await spawned(h);
    h.fake.update(build, { state: "running" });
    const body = JSON.stringify(h.fake.webhook("build.running", build));
    const headers = buildkiteHeaders({
      mode: "signature",
      secret: SECRET,
      event: "build.running",
      body,
      nowMs: h.clock.now(),
    });
    expect(await h.send(undefined, { raw: body, headers })).toEqual({ status: 200, body: "ok\n" });
    const before = snapshot(h);
    expect(await h.send(undefined, { raw: body, headers })).toEqual({
      status: 200,
      body: "duplicate\n",
    });
    expect(snapshot(h)).toEqual(before);
    expect(h.statuses(id).map((s) => s.status)).toEqual(["pending", "running"]);
  });

  test("token mode: an identical body delivered again is a duplicate", async () => {
    await using h = await startHarness({ mode: "token" });
    const { build } = await spawned(h);
    h.fake.update(build, { state: "running" });
    const payload = h.fake.webhook("build.running", build);
    expect((await h.send(payload)).body).toBe("ok\n");
    const before = snapshot(h);
    expect(await h.send(payload)).toEqual({ status: 200, body: "duplicate\n" });
    expect(snapshot(h)).toEqual(before);
  });

  test("a late running after finished never regresses the workflow", async () => {
    await using h = await startHarness();
    const { id, build } = await spawned(h);
    h.fake.update(build, { state: "running" });
    const late = h.fake.webhook("build.running", build);
    settle(h.fake, build, "passed", "passed");
    expect((await h.send(h.fake.webhook("build.finished", build))).status).toBe(200);
    const events = h.eventCount();
    expect(await h.send(late)).toEqual({ status: 200, body: "ok\n" });
    expect(h.eventCount()).toBe(events);
    expect(h.statuses(id).map((s) => s.status)).toEqual(["pending", "success"]);
    expect(h.workflow(id)?.status).toBe("success");
    expect(h.buildRows()[0]?.state).toBe("passed");
  });

  test("concurrent deliveries of one build settle on the furthest state", async () => {
    await using h = await startHarness();
    const { id, build } = await spawned(h);
    h.fake.update(build, { state: "running" });
    const running = h.fake.webhook("build.running", build);
    settle(h.fake, build, "failed", "failed");
    const finished = h.fake.webhook("build.finished", build);
    const answers = await Promise.all([h.send(finished), h.send(running), h.send(finished)]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(h.statuses(id).at(-1)?.status).toBe("failed");
    expect(h.statuses(id).filter((s) => s.status === "failed")).toHaveLength(1);
  });

  test("a webhook that arrives before spawn stored the build is matched by its meta_data", async () => {
    await using h = await startHarness();
    const hold = h.fake.holdNextCreate();
    const dispatched = h.dispatch("race.yml");
    const build = await hold.created;
    expect(h.buildRows()).toHaveLength(0);

    h.fake.update(build, { state: "running" });
    expect(await h.send(h.fake.webhook("build.running", build))).toEqual({
      status: 200,
      body: "ok\n",
    });
    expect(h.buildRows()).toEqual([
      expect.objectContaining({
        build_uuid: build.id,
        workflow: "race.yml",
        org: "acme",
        pipeline: "app-ci",
        state: "running",
      }),
    ]);

    hold.release();
    const { id, outcome } = await dispatched;
    expect(outcome).toBe("spawned");
    // Spawn's own (older) answer did not move the row back.
    expect(h.buildRows()).toEqual([
      expect.objectContaining({ build_uuid: build.id, state: "running" }),
    ]);
    settle(h.fake, build, "passed", "passed");
    expect((await h.send(h.fake.webhook("build.finished", build))).status).toBe(200);
    expect(h.statuses(id).map((s) => s.status)).toEqual(["pending", "running", "success"]);
  });
});

describe("buildkite webhook refusals write nothing", () => {
  test("token mode: a wrong or missing token is 401", async () => {
    await using h = await startHarness({ mode: "token" });
    const { id, build } = await spawned(h);
    h.fake.update(build, { state: "running" });
    const body = JSON.stringify(h.fake.webhook("build.running", build));
    const before = snapshot(h);
    for (const token of ["wrong-secret", `${SECRET}x`, SECRET.slice(0, -1), ""]) {
      const response = await h.send(undefined, {
        raw: body,
        headers: { "x-buildkite-event": "build.running", "x-buildkite-token": token },
      });
      expect(response).toEqual({ status: 401, body: "unauthorized\n" });
    }
    const unsigned = await h.send(undefined, {
      raw: body,
      headers: { "x-buildkite-event": "build.running" },
    });
    expect(unsigned.status).toBe(401);
    expect(snapshot(h)).toEqual(before);
    expect(h.workflow(id)?.status).toBe("pending");
    expect(h.service.logs.some((l) => l.msg === "buildkite webhook: verify failed")).toBe(true);
    expect(JSON.stringify(h.service.logs)).not.toContain(SECRET);
  });

  test("signature mode: bad signature, tampered body, stale or future timestamp, bad header are 401", async () => {
    // Real time here: the window's edge is measured in seconds.
    await using h = await startHarness({ mode: "signature", clock: systemClock });
    const { id, build } = await spawned(h);
    h.fake.update(build, { state: "running" });
    const body = JSON.stringify(h.fake.webhook("build.running", build));
    const now = Math.floor(h.clock.now() / 1000);
    const event = { "x-buildkite-event": "build.running" };
    const attempts: Record<string, { raw: string; headers: Record<string, string> }> = {
      "other secret": {
        raw: body,
        headers: { ...event, "x-buildkite-signature": buildkiteSignature("not-it", body, now) },
      },
      "tampered body": {
        raw: body.replace('"running"', '"passed"'),
        headers: { ...event, "x-buildkite-signature": buildkiteSignature(SECRET, body, now) },
      },
      "stale timestamp": {
        raw: body,
        headers: { ...event, "x-buildkite-signature": buildkiteSignature(SECRET, body, now - 301) },
      },
      "future timestamp": {
        raw: body,
        headers: { ...event, "x-buildkite-signature": buildkiteSignature(SECRET, body, now + 301) },
      },
      "no signature": {
        raw: body,
        headers: { ...event, "x-buildkite-signature": `timestamp=${now}` },
      },
      garbage: { raw: body, headers: { ...event, "x-buildkite-signature": "nonsense" } },
      "token in signature mode": { raw: body, headers: { ...event, "x-buildkite-token": SECRET } },
    };
    const before = snapshot(h);
    for (const [name, attempt] of Object.entries(attempts)) {
      const response = await h.send(undefined, attempt);
      expect({ name, status: response.status }).toEqual({ name, status: 401 });
    }
    expect(snapshot(h)).toEqual(before);
    expect(h.workflow(id)?.status).toBe("pending");
    const logged = JSON.stringify(h.service.logs);
    expect(logged).not.toContain(SECRET);
    expect(logged).toMatch(/signature timestamp is 30[01] s away from our clock \(limit 300 s\)/);
  });

  test("a signature 290 s old is still accepted", async () => {
    await using h = await startHarness({ mode: "signature" });
    const { id, build } = await spawned(h);
    h.fake.update(build, { state: "running" });
    const body = JSON.stringify(h.fake.webhook("build.running", build));
    const then = Math.floor(h.clock.now() / 1000) - 290;
    const response = await h.send(undefined, {
      raw: body,
      headers: {
        "x-buildkite-event": "build.running",
        "x-buildkite-signature": buildkiteSignature(SECRET, body, then),
      },
    });
    expect(response.status).toBe(200);
    expect(h.workflow(id)?.status).toBe("running");
  });

  test("an exact replay inside the window is a duplicate and changes nothing", async () => {
    await using h = await startHarness({ mode: "signature" });
    const { build } = await spawned(h);
    settle(h.fake, build, "passed", "passed");
    const body = JSON.stringify(h.fake.webhook("build.finished", build));
    const headers = buildkiteHeaders({
      mode: "signature",
      secret: SECRET,
      event: "build.finished",
      body,
      nowMs: h.clock.now(),
    });
    expect((await h.send(undefined, { raw: body, headers })).status).toBe(200);
    const before = snapshot(h);
    const apiCalls = h.fake.calls.length;
    expect(await h.send(undefined, { raw: body, headers })).toEqual({
      status: 200,
      body: "duplicate\n",
    });
    expect(snapshot(h)).toEqual(before);
    // Not even the confirming API read is repeated.
    expect(h.fake.calls.length).toBe(apiCalls);
  });

  test("a body over 1 MiB is 413", async () => {
    await using h = await startHarness();
    const { id, build } = await spawned(h);
    const payload = h.fake.webhook("build.running", build);
    const body = JSON.stringify({ ...payload, padding: "x".repeat(1 << 20) });
    const before = snapshot(h);
    const response = await h.send(undefined, {
      raw: body,
      headers: buildkiteHeaders({
        mode: "signature",
        secret: SECRET,
        event: "build.running",
        body,
        nowMs: h.clock.now(),
      }),
    });
    expect(response.status).toBe(413);
    expect(snapshot(h)).toEqual(before);
    expect(h.workflow(id)?.status).toBe("pending");
  });

  test("a signed body that is not JSON is 400; a build event of the wrong shape too", async () => {
    await using h = await startHarness();
    const { id, build } = await spawned(h);
    const before = snapshot(h);
    const notJson = '{"event":"build.running","build":';
    const signed = (raw: string) =>
      buildkiteHeaders({
        mode: "signature",
        secret: SECRET,
        event: "build.running",
        body: raw,
        nowMs: h.clock.now(),
      });
    expect(await h.send(undefined, { raw: notJson, headers: signed(notJson) })).toEqual({
      status: 400,
      body: "bad request: body is not JSON\n",
    });
    const wrongShape = JSON.stringify({
      event: "build.running",
      build: { id: build.id, state: 7 },
    });
    const shaped = await h.send(undefined, { raw: wrongShape, headers: signed(wrongShape) });
    expect(shaped.status).toBe(400);
    expect(shaped.body).toStartWith("bad request: /build/");
    expect(snapshot(h)).toEqual(before);
    expect(h.workflow(id)?.status).toBe("pending");
  });

  test("ping, job events and builds that are not tack's are 200 and ignored", async () => {
    await using h = await startHarness();
    const { id, build } = await spawned(h);
    h.fake.update(build, { state: "running" });
    const before = snapshot(h);
    expect(
      await h.send({ event: "ping", service: { id: "x" }, organization: { slug: "acme" } }),
    ).toEqual({ status: 200, body: "pong\n" });
    expect(
      await h.send({
        event: "job.started",
        job: { id: "j" },
        build: h.fake.webhook("x", build).build,
      }),
    ).toEqual({ status: 200, body: "ignored\n" });
    const foreign = h.fake.webhook("build.running", build);
    const foreignBuild = { ...foreign.build, id: crypto.randomUUID(), meta_data: {} };
    expect(await h.send({ ...foreign, build: foreignBuild })).toEqual({
      status: 200,
      body: "ignored: not a tack build\n",
    });
    const elsewhere = {
      ...foreign.build,
      id: crypto.randomUUID(),
      meta_data: { "tack:knot": "other.knot", "tack:pipeline_rkey": "x", "tack:workflow": "y" },
    };
    expect(await h.send({ ...foreign, build: elsewhere })).toEqual({
      status: 200,
      body: "ignored: unknown workflow\n",
    });
    expect(snapshot(h)).toEqual(before);
    expect(h.workflow(id)?.status).toBe("pending");
  });

  test("a spindle without Buildkite configured answers 503", async () => {
    await using service = await startTestTack();
    const response = await fetch(`${service.http}/webhooks/buildkite`, {
      method: "POST",
      headers: { "x-buildkite-event": "build.running", "x-buildkite-token": "anything" },
      body: "{}",
    });
    expect(response.status).toBe(503);
  });
});
