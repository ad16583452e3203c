/**
 * End to end over loopback: a local Jetstream and a local knot speaking the real frame
 * formats, the real service in between, and /events read as the appview reads it.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { decodeTid } from "../../src/eventlog/tid.ts";
import { KNOT_REWIND_NS } from "../../src/tangled/knots.ts";
import { cleanupAfterEach } from "../helpers/cleanup.ts";
import { FakeJetstream } from "../helpers/fake-jetstream.ts";
import { FakeKnot } from "../helpers/fake-knot.ts";
import { startTestTack, type TestTack, tempDir } from "../helpers/tack.ts";
import { followedRepo, pushTrigger } from "../helpers/tangled-network.ts";
import { until } from "../helpers/wait.ts";
import {
  FAKE_WORKFLOW,
  freshSha,
  MEMBER,
  memberRecord,
  newTid,
  OWNER,
  pastTid,
  pipelineRecord,
  repoRecord,
  STRANGER,
} from "../helpers/wire.ts";
import { connect } from "../helpers/ws.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

const HOSTNAME = "spindle.test";
const defer = cleanupAfterEach();

function upstreams() {
  const jetstream = FakeJetstream.start();
  const knot = FakeKnot.start();
  defer(() => jetstream.stop());
  defer(() => knot.stop());
  return { jetstream, knot };
}

/**
 * A quiet Jetstream connection after a restart means its replay is over; the stand-in replays
 * at once, so a short quiet spell is enough (the catch-up test, whose replay is slow, waits
 * the real second).
 */
async function tackFor(jetstream: FakeJetstream, dir?: string, quietMs = 100): Promise<TestTack> {
  const service = await startTestTack({
    dir,
    config: { hostname: HOSTNAME, jetstreamUrl: jetstream.url, dev: true },
    overrides: {
      streams: { minBackoffMs: 20, maxBackoffMs: 200, idleTimeoutMs: 10_000 },
      jetstreamQuietMs: quietMs,
    },
  });
  // Stopping is idempotent, so tests that stop a service themselves (restarts) may too.
  defer(() => service[Symbol.asyncDispose]());
  return service;
}

/** Registers `name` (owned by `did`, on `knot`) as a repo using this spindle. */
function registerRepo(
  jetstream: FakeJetstream,
  did: string,
  name: string,
  knot: string,
  spindle = HOSTNAME,
) {
  const rkey = newTid();
  jetstream.commit(did, "sh.tangled.repo", "create", rkey, repoRecord({ name, knot, spindle }));
  return rkey;
}

interface Status {
  status: string;
  pipeline: string;
  workflow: string;
  error?: string;
}

function statusesOf(frames: string[]): Status[] {
  return frames.map((frame) => (JSON.parse(frame) as { event: Status }).event);
}

function forPipeline(frames: string[], knot: string, rkey: string): Status[] {
  const uri = `at://did:web:${knot}/sh.tangled.pipeline/${rkey}`;
  return statusesOf(frames).filter((status) => status.pipeline === uri);
}

/** How many times the service handed this pipeline's workflow to a provider. */
function spawnsOf(service: TestTack, rkey: string): number {
  return service.logs.filter(
    (l) => l.msg === "dispatch: workflow spawned" && l.pipeline_rkey === rkey,
  ).length;
}

describe("ingestion", () => {
  test("repo record → knot followed → pipeline → fake provider → pending, running, success", async () => {
    const { jetstream, knot } = upstreams();
    const service = await tackFor(jetstream);

    await until(() => jetstream.openConnections === 1, "jetstream connection");
    expect(jetstream.connections[0]?.searchParams.getAll("wantedCollections")).toEqual([
      "sh.tangled.spindle.member",
      "sh.tangled.repo",
      "sh.tangled.repo.collaborator",
      "sh.tangled.repo.pull",
      "sh.tangled.repo.pull.status",
    ]);
    registerRepo(jetstream, OWNER, "app", knot.host);
    await until(() => knot.openConnections === 1, "knot followed");
    expect(knot.connections[0]?.pathname).toBe("/events");

    const events = connect(`${service.ws}/events`);
    await events.opened;
    const rkey = knot.push(
      "sh.tangled.pipeline",
      pipelineRecord({ knot: knot.host, did: OWNER, repo: "app" }),
    );
    const frames = await events.waitFor(3);
    expect(statusesOf(frames)).toEqual([
      expect.objectContaining({ status: "pending", workflow: "ci.yml" }),
      expect.objectContaining({ status: "running", workflow: "ci.yml" }),
      expect.objectContaining({ status: "success", workflow: "ci.yml" }),
    ]);
    for (const status of statusesOf(frames)) {
      expect(status.pipeline).toBe(`at://did:web:${knot.host}/sh.tangled.pipeline/${rkey}`);
    }
    events.close();
  });

  test("rejected triggers emit no status and log why; bad workflows fail with a clear error", async () => {
    const { jetstream, knot } = upstreams();
    const service = await tackFor(jetstream);
    await until(() => jetstream.openConnections === 1, "jetstream connection");
    registerRepo(jetstream, OWNER, "app", knot.host);
    registerRepo(jetstream, STRANGER, "evil", knot.host); // names us, but its owner is nobody here
    registerRepo(jetstream, OWNER, "elsewhere", knot.host, "other-spindle.example");
    // A member record written by someone who is not the owner admits nobody.
    jetstream.commit(
      STRANGER,
      "sh.tangled.spindle.member",
      "create",
      newTid(),
      memberRecord(STRANGER, HOSTNAME),
    );
    await until(() => knot.openConnections === 1, "knot followed");

    const events = connect(`${service.ws}/events`);
    await events.opened;
    const rejected = {
      stranger: knot.push(
        "sh.tangled.pipeline",
        pipelineRecord({ knot: knot.host, did: STRANGER, repo: "evil" }),
      ),
      notOurs: knot.push(
        "sh.tangled.pipeline",
        pipelineRecord({ knot: knot.host, did: OWNER, repo: "elsewhere" }),
      ),
      mismatch: knot.push(
        "sh.tangled.pipeline",
        pipelineRecord({ knot: "other.knot.example", did: OWNER, repo: "app" }),
      ),
      malformed: knot.push("sh.tangled.pipeline", { triggerMetadata: { kind: "push" } }),
    };
    knot.push("sh.tangled.git.refUpdate", { ref: "refs/heads/main" }); // not ours to act on
    const noTack = knot.push(
      "sh.tangled.pipeline",
      pipelineRecord({
        knot: knot.host,
        did: OWNER,
        repo: "app",
        workflows: [
          { name: "plain.yml", raw: "engine: nixery\nsteps:\n  - name: t\n    command: make\n" },
          { name: "jenkins.yml", raw: "engine: tack\ntack:\n  jenkins: { job: x }\n" },
          { name: "broken.yml", raw: "tack: [unclosed\n" },
        ],
      }),
    );

    // A valid trigger pushed last: once it shows, anything the ones before it caused has too.
    const sentinel = knot.push(
      "sh.tangled.pipeline",
      pipelineRecord({ knot: knot.host, did: OWNER, repo: "app", sha: freshSha() }),
    );
    await until(
      () => forPipeline(events.frames, knot.host, sentinel).length > 0,
      "the last trigger pending",
    );
    const frames = events.frames.filter(
      (frame) => forPipeline([frame], knot.host, sentinel).length === 0,
    );
    expect(frames).toHaveLength(3);
    for (const rkey of Object.values(rejected))
      expect(forPipeline(frames, knot.host, rkey)).toEqual([]);
    const failed = forPipeline(frames, knot.host, noTack);
    const byName = Object.fromEntries(failed.map((s) => [s.workflow, s]));
    expect(Object.values(byName).map((s) => s.status)).toEqual(["failed", "failed", "failed"]);
    expect(byName["plain.yml"]?.error).toStartWith('workflow has no "tack:" block');
    expect(byName["jenkins.yml"]?.error).toBe(
      'unknown provider "jenkins": this spindle runs "fake"',
    );
    expect(byName["broken.yml"]?.error).toStartWith("workflow YAML does not parse");

    const reasons = service.logs.filter((l) => String(l.msg).startsWith("pipeline: rejected"));
    expect(reasons.map((l) => [l.msg, l.pipeline_rkey])).toEqual([
      ["pipeline: rejected, repo owner is not the spindle owner or a member", rejected.stranger],
      ["pipeline: rejected, repo does not use this spindle", rejected.notOurs],
      ["pipeline: rejected, knot mismatch", rejected.mismatch],
      ["pipeline: rejected, malformed record", rejected.malformed],
    ]);

    // The appview's log view shows the same message.
    const logs = connect(`${service.ws}/logs/${knot.host}/${noTack}/plain.yml`);
    expect((await logs.closed).code).toBe(1000);
    expect(JSON.parse(logs.frames[1] ?? "{}").content).toBe(byName["plain.yml"]?.error);
    events.close();
  });

  test("a member admitted by the owner may run builds; removing the member stops it", async () => {
    const { jetstream, knot } = upstreams();
    const service = await tackFor(jetstream);
    await until(() => jetstream.openConnections === 1, "jetstream connection");
    registerRepo(jetstream, MEMBER, "lib", knot.host);
    const memberRkey = newTid();
    jetstream.commit(
      OWNER,
      "sh.tangled.spindle.member",
      "create",
      memberRkey,
      memberRecord(MEMBER, HOSTNAME),
    );
    await until(() => knot.openConnections === 1, "knot followed for the member's repo");

    const events = connect(`${service.ws}/events`);
    await events.opened;
    const allowed = knot.push(
      "sh.tangled.pipeline",
      pipelineRecord({ knot: knot.host, did: MEMBER, repo: "lib" }),
    );
    await until(
      () => forPipeline(events.frames, knot.host, allowed).length >= 1,
      "member's build pending",
    );

    jetstream.commit(OWNER, "sh.tangled.spindle.member", "delete", memberRkey);
    // The member's repo was the only one on this knot: the knot is dropped.
    await until(() => knot.openConnections === 0, "knot dropped");
    expect(service.tack.knots.status()).toEqual([]);
    events.close();
  });

  test("a repo switched to another spindle, or deleted, is untracked and its knot dropped", async () => {
    const { jetstream, knot } = upstreams();
    const service = await tackFor(jetstream);
    await until(() => jetstream.openConnections === 1, "jetstream connection");
    const rkey = registerRepo(jetstream, OWNER, "app", knot.host);
    await until(() => knot.openConnections === 1, "knot followed");
    jetstream.commit(
      OWNER,
      "sh.tangled.repo",
      "update",
      rkey,
      repoRecord({ name: "app", knot: knot.host, spindle: "" }),
    );
    await until(() => knot.openConnections === 0, "knot dropped after switch");
    expect(service.tack.membership.trackedRepo(OWNER, "app", knot.host)).toBeUndefined();

    jetstream.commit(
      OWNER,
      "sh.tangled.repo",
      "update",
      rkey,
      repoRecord({ name: "app", knot: knot.host, spindle: HOSTNAME }),
    );
    await until(() => knot.openConnections === 1, "knot followed again");
    jetstream.commit(OWNER, "sh.tangled.repo", "delete", rkey);
    await until(() => knot.openConnections === 0, "knot dropped after delete");
  });

  test("bad Jetstream frames and records are skipped; the cursor moves on", async () => {
    const { jetstream, knot } = upstreams();
    const service = await tackFor(jetstream);
    await until(() => jetstream.openConnections === 1, "jetstream connection");
    jetstream.sendRaw("not json {");
    jetstream.sendRaw(JSON.stringify({ kind: "commit" }));
    jetstream.commit(OWNER, "sh.tangled.repo", "create", newTid(), {
      knot: knot.host,
      spindle: HOSTNAME,
    });
    jetstream.sendRaw(JSON.stringify({ did: OWNER, time_us: 1, kind: "identity", identity: {} }));
    registerRepo(jetstream, OWNER, "app", knot.host);
    await until(() => knot.openConnections === 1, "valid record after the bad ones applied");
    const messages = service.logs.map((l) => l.msg);
    expect(messages).toContain("jetstream: skipping a frame that is not JSON");
    expect(messages).toContain("jetstream: skipping an invalid event");
    expect(messages).toContain("jetstream: skipping an invalid record");
  });

  test("a knot that drops the connection and repeats a trigger: each trigger dispatched once", async () => {
    const { jetstream, knot } = upstreams();
    const service = await tackFor(jetstream);
    await followedRepo(jetstream, knot, { spindle: HOSTNAME });
    const events = connect(`${service.ws}/events`);
    await events.opened;

    const record = pipelineRecord({ knot: knot.host, did: OWNER, repo: "app" });
    const later = pipelineRecord({ knot: knot.host, did: OWNER, repo: "app", sha: freshSha() });
    const first = knot.push("sh.tangled.pipeline", record);
    await until(
      () => forPipeline(events.frames, knot.host, first).length >= 1,
      "first trigger pending",
    );
    knot.dropAll();
    const second = knot.push("sh.tangled.pipeline", later); // stored while tack is away
    await until(
      () => knot.connections.length === 2 && knot.openConnections === 1,
      "tack reconnected",
    );
    expect(knot.connections[1]?.searchParams.get("cursor")).toMatch(/^\d+$/);
    knot.push("sh.tangled.pipeline", record, first); // the same trigger again
    knot.push("sh.tangled.pipeline", later, second);

    await until(
      () => forPipeline(events.frames, knot.host, second).length === 3,
      "second trigger done",
    );
    await until(
      () => forPipeline(events.frames, knot.host, first).length === 3,
      "first trigger done",
    );
    // A trigger pushed last: once it shows, anything repeated before it would have too.
    const sentinel = knot.push(
      "sh.tangled.pipeline",
      pipelineRecord({ knot: knot.host, did: OWNER, repo: "app", sha: freshSha() }),
    );
    await until(
      () => forPipeline(events.frames, knot.host, sentinel).length > 0,
      "the last trigger pending",
    );
    for (const rkey of [first, second]) {
      expect(forPipeline(events.frames, knot.host, rkey).map((s) => s.status)).toEqual([
        "pending",
        "running",
        "success",
      ]);
      expect(spawnsOf(service, rkey)).toBe(1);
    }
    events.close();
  });

  test("a restart between two triggers neither loses nor repeats one", async () => {
    const { jetstream, knot } = upstreams();
    const dir = tempDir();
    const first = await tackFor(jetstream, dir);
    await followedRepo(jetstream, knot, { spindle: HOSTNAME });
    const record = pipelineRecord({ knot: knot.host, did: OWNER, repo: "app" });
    const before = knot.push("sh.tangled.pipeline", record);
    await until(
      () =>
        first.tack.workflows.get({ knot: knot.host, pipelineRkey: before, name: "ci.yml" })
          ?.status === "success",
      "first trigger done",
    );
    await first.tack.stop();

    const during = knot.push(
      "sh.tangled.pipeline",
      pipelineRecord({ knot: knot.host, did: OWNER, repo: "app", sha: freshSha() }),
    ); // pushed while tack is down
    const second = await tackFor(jetstream, dir);
    await until(() => knot.connections.length === 2, "knot followed again after restart");
    // Resumed from durable cursors, not from scratch.
    expect(knot.connections.at(-1)?.searchParams.get("cursor")).toMatch(/^\d+$/);
    expect(jetstream.connections.at(-1)?.searchParams.get("cursor")).toMatch(/^\d+$/);

    const events = connect(`${second.ws}/events`);
    await until(
      () => forPipeline(events.frames, knot.host, during).length === 3,
      "trigger pushed during downtime done",
    );
    // A trigger pushed last: once it shows, anything repeated before it would have too.
    const sentinel = knot.push(
      "sh.tangled.pipeline",
      pipelineRecord({ knot: knot.host, did: OWNER, repo: "app", sha: freshSha() }),
    );
    await until(
      () => forPipeline(events.frames, knot.host, sentinel).length > 0,
      "the last trigger pending",
    );
    expect(forPipeline(events.frames, knot.host, before).map((s) => s.status)).toEqual([
      "pending",
      "running",
      "success",
    ]);
    expect(forPipeline(events.frames, knot.host, during).map((s) => s.status)).toEqual([
      "pending",
      "running",
      "success",
    ]);
    expect(spawnsOf(first, before) + spawnsOf(second, before)).toBe(1);
    expect(spawnsOf(first, during) + spawnsOf(second, during)).toBe(1);
    events.close();
  });
});

describe("knot cursors", () => {
  test("follow the knot's timeline (TIDs), so an old backlog resumes where it stopped", async () => {
    const { jetstream, knot } = upstreams();
    const dir = tempDir();
    const first = await tackFor(jetstream, dir);
    await followedRepo(jetstream, knot, { spindle: HOSTNAME });
    const warmup = knot.push(
      "sh.tangled.pipeline",
      pipelineRecord({ knot: knot.host, did: OWNER, repo: "app", sha: freshSha() }),
      pastTid(300_000),
    );
    await until(() => spawnsOf(first, warmup) === 1, "first trigger spawned");
    await first.tack.stop();

    // While tack is down, the knot stores a backlog whose keys are minutes old by the time it
    // is read: a cursor taken from tack's clock would jump past anything still unsent.
    const backlog = Array.from({ length: 5 }, (_, i) =>
      knot.push(
        "sh.tangled.pipeline",
        pipelineRecord({ knot: knot.host, did: OWNER, repo: "app", sha: freshSha() }),
        pastTid(180_000 - i * 1_000),
      ),
    );
    const second = await tackFor(jetstream, dir);
    await until(() => backlog.every((rkey) => spawnsOf(second, rkey) === 1), "backlog spawned");

    const stored = second.tack.knots.cursorOf(knot.host);
    const newest = backlog.at(-1) ?? "";
    expect(stored).toBe(decodeTid(newest).micros * 1_000n);
    knot.dropAll();
    await until(() => knot.connections.length === 3, "reconnected");
    expect(BigInt(knot.connections[2]?.searchParams.get("cursor") ?? "0")).toBe(
      (stored ?? 0n) - KNOT_REWIND_NS,
    );
  });

  test("a knot no longer followed forgets its cursor, so following it again starts live", async () => {
    const { jetstream, knot } = upstreams();
    const service = await tackFor(jetstream);
    await until(() => jetstream.openConnections === 1, "jetstream connection");
    const rkey = registerRepo(jetstream, OWNER, "app", knot.host);
    await until(() => knot.openConnections === 1, "knot followed");
    const before = pushTrigger(knot, [FAKE_WORKFLOW]);
    await until(() => spawnsOf(service, before) === 1, "trigger spawned");
    jetstream.commit(
      OWNER,
      "sh.tangled.repo",
      "update",
      rkey,
      repoRecord({ name: "app", knot: knot.host, spindle: "other.example" }),
    );
    await until(() => knot.openConnections === 0, "knot dropped");
    const elsewhere = pushTrigger(knot, [FAKE_WORKFLOW]); // another spindle's business
    jetstream.commit(
      OWNER,
      "sh.tangled.repo",
      "update",
      rkey,
      repoRecord({ name: "app", knot: knot.host, spindle: HOSTNAME }),
    );
    await until(() => knot.connections.length === 2, "knot followed again");
    expect(knot.connections[1]?.searchParams.get("cursor")).toBeNull();
    const after = pushTrigger(knot, [FAKE_WORKFLOW]);
    await until(() => spawnsOf(service, after) === 1, "new trigger spawned");
    expect(spawnsOf(service, elsewhere)).toBe(0);
  });
});

test("two workflows with the same name in one trigger: the first runs, the second is ignored", async () => {
  const { jetstream, knot } = upstreams();
  const service = await tackFor(jetstream);
  await followedRepo(jetstream, knot, { spindle: HOSTNAME });
  const rkey = pushTrigger(knot, [
    FAKE_WORKFLOW,
    { ...FAKE_WORKFLOW, raw: "tack: { fake: { result: failed } }" },
  ]);
  await until(() => spawnsOf(service, rkey) === 1, "spawned");
  await until(
    () =>
      service.tack.workflows.get({ knot: knot.host, pipelineRkey: rkey, name: "ci.yml" })
        ?.status === "success",
    "first finished",
  );
  expect(spawnsOf(service, rkey)).toBe(1);
  expect(service.logs.some((l) => l.msg === "pipeline: duplicate workflow name ignored")).toBe(
    true,
  );
});

test("changes made on Jetstream while tack was down apply before the knots' backlogs are judged", async () => {
  const { jetstream, knot } = upstreams();
  const dir = tempDir();
  const first = await tackFor(jetstream, dir);
  await followedRepo(jetstream, knot, { spindle: HOSTNAME });
  const warmup = pushTrigger(knot, [FAKE_WORKFLOW]);
  await until(() => spawnsOf(first, warmup) === 1, "owner's trigger spawned");
  await first.tack.stop();

  // While tack is down: the owner admits a member, whose repo on the same knot names this
  // spindle, and the member pushes.
  jetstream.commit(
    OWNER,
    "sh.tangled.spindle.member",
    "create",
    newTid(),
    memberRecord(MEMBER, HOSTNAME),
  );
  registerRepo(jetstream, MEMBER, "lib", knot.host);
  const pushed = pushTrigger(knot, [FAKE_WORKFLOW], { did: MEMBER, name: "lib" });

  jetstream.replayDelayMs = 400; // Jetstream answers the resume a little slower than the knot
  const second = await tackFor(jetstream, dir, 1_000);
  await until(() => spawnsOf(second, pushed) === 1, "member's trigger spawned after restart");
  expect(second.logs.filter((l) => String(l.msg).startsWith("pipeline: rejected"))).toEqual([]);
});
