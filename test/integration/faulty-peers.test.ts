/**
 * Upstreams that misbehave: a knot that cuts a frame in half, sends garbage, unknown and
 * oversized frames, repeats old triggers, breaks the WebSocket framing and stalls; a Jetstream
 * that replays stale events. tack keeps serving, reconnects, and dispatches every trigger
 * exactly once.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { cleanupAfterEach } from "../helpers/cleanup.ts";
import { FakeJetstream } from "../helpers/fake-jetstream.ts";
import { type RawConnection, RawWsServer } from "../helpers/raw-ws-server.ts";
import { startTestTack, type TestTack, tempDir } from "../helpers/tack.ts";
import { until } from "../helpers/wait.ts";
import {
  freshSha,
  MEMBER,
  newTid,
  OWNER,
  pipelineRecord,
  repoRecord,
  STRANGER,
  sortedJson,
} from "../helpers/wire.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

const HOSTNAME = "spindle.test";
const defer = cleanupAfterEach();

async function serviceFor(
  jetstream: FakeJetstream,
  idleTimeoutMs: number,
  dir?: string,
): Promise<TestTack> {
  const service = await startTestTack({
    dir,
    config: { hostname: HOSTNAME, jetstreamUrl: jetstream.url, dev: true },
    overrides: { streams: { minBackoffMs: 20, maxBackoffMs: 100, idleTimeoutMs } },
  });
  defer(() => service[Symbol.asyncDispose]());
  return service;
}

/** A local Jetstream announcing a repo on a byte-level knot (RawWsServer) that tack then follows. */
async function rawKnotFollowed(idleTimeoutMs: number) {
  const jetstream = FakeJetstream.start();
  defer(() => jetstream.stop());
  const connections: RawConnection[] = [];
  const knot = await RawWsServer.start((connection) => connections.push(connection));
  defer(() => knot.stop());
  const service = await serviceFor(jetstream, idleTimeoutMs);
  await until(() => jetstream.openConnections === 1, "jetstream connected");
  jetstream.commit(
    OWNER,
    "sh.tangled.repo",
    "create",
    newTid(),
    repoRecord({ name: "app", knot: knot.host, spindle: HOSTNAME }),
  );
  return { jetstream, knot, connections, service };
}

function spawns(service: TestTack, rkey: string): number {
  return service.logs.filter(
    (l) => l.msg === "dispatch: workflow spawned" && l.pipeline_rkey === rkey,
  ).length;
}

test("a knot that cuts frames, sends garbage and repeats itself: every trigger runs once", async () => {
  const { knot, connections, service } = await rawKnotFollowed(10_000);
  await until(() => connections.length === 1, "knot followed");

  // Three pushes (three commits), each announced under its own rkey.
  const commits = new Map<string, string>();
  const trigger = (rkey: string) => {
    const sha = commits.get(rkey) ?? freshSha();
    commits.set(rkey, sha);
    return sortedJson({
      event: pipelineRecord({ knot: knot.host, did: OWNER, repo: "app", sha }),
      nsid: "sh.tangled.pipeline",
      rkey,
    });
  };
  const [a, b, c, sentinel] = [newTid(), newTid(), newTid(), newTid()];

  connections[0]?.sendText(trigger(a));
  await until(() => spawns(service, a) === 1, "first trigger spawned");
  connections[0]?.sendHalfThenDrop(trigger(b)); // the connection dies inside a frame
  await until(() => connections.length === 2, "reconnected after the cut");
  expect(connections[1]?.url.searchParams.get("cursor")).toMatch(/^\d+$/);

  const second = connections[1];
  second?.sendText("}{ this is not JSON");
  second?.sendText(
    sortedJson({ event: { x: 1 }, nsid: "sh.tangled.somethingNew", rkey: newTid() }),
  );
  second?.sendText(JSON.stringify({ nsid: "sh.tangled.pipeline" }));
  second?.sendText(
    sortedJson({
      event: { pad: "x".repeat(5 << 20) },
      nsid: "sh.tangled.pipeline",
      rkey: newTid(),
    }),
  );
  second?.sendText(trigger(a)); // an old trigger again
  second?.sendText(trigger(b)); // the one that was cut, replayed whole
  second?.sendRawBytes(Uint8Array.from([0x83, 0x02, 0x00, 0x00])); // reserved opcode: a protocol error
  await until(() => connections.length === 3, "reconnected after the protocol error");
  connections[2]?.sendText(trigger(c));

  await until(() => spawns(service, b) === 1 && spawns(service, c) === 1, "all triggers spawned");
  // A trigger sent last: once it has spawned, anything repeated before it would have too.
  connections[2]?.sendText(trigger(sentinel));
  await until(() => spawns(service, sentinel) === 1, "the last trigger spawned");
  expect([spawns(service, a), spawns(service, b), spawns(service, c)]).toEqual([1, 1, 1]);
  const messages = service.logs.map((l) => l.msg);
  expect(messages).toContain("knot: skipping a frame that is not JSON");
  expect(messages).toContain("knot: skipping a frame without rkey, nsid and event");
  expect(messages).toContain("stream: dropping an oversized frame");
  expect((await fetch(`${service.http}/healthz`)).status).toBe(200);
});

test("a knot that stalls after the handshake is replaced by the idle watchdog", async () => {
  const { knot, connections, service } = await rawKnotFollowed(300);
  await until(() => connections.length >= 3, "two reconnects of a silent knot");
  const rkey = newTid();
  connections.at(-1)?.sendText(
    sortedJson({
      event: pipelineRecord({ knot: knot.host, did: OWNER, repo: "app" }),
      nsid: "sh.tangled.pipeline",
      rkey,
    }),
  );
  await until(() => spawns(service, rkey) === 1, "trigger on the fresh connection spawned");
  expect(service.logs.some((l) => l.msg === "stream: idle, reconnecting")).toBe(true);
});

test("a stale Jetstream event replayed after a newer one does not undo it", async () => {
  const jetstream = FakeJetstream.start();
  defer(() => jetstream.stop());
  const service = await serviceFor(jetstream, 10_000);
  await until(() => jetstream.openConnections === 1, "jetstream connected");
  const rkey = newTid();
  jetstream.commit(
    OWNER,
    "sh.tangled.repo",
    "create",
    rkey,
    repoRecord({ name: "app", knot: "knot.test", spindle: HOSTNAME }),
  );
  const created = jetstream.events.at(-1)?.frame ?? "";
  jetstream.commit(
    OWNER,
    "sh.tangled.repo",
    "update",
    rkey,
    repoRecord({ name: "app", knot: "knot.test", spindle: "elsewhere" }),
  );
  jetstream.sendRaw(created); // an old "create" arriving late
  const marker = newTid();
  jetstream.commit(
    OWNER,
    "sh.tangled.repo",
    "create",
    marker,
    repoRecord({ name: "marker", knot: "knot.test", spindle: HOSTNAME }),
  );
  await until(
    () => service.tack.membership.trackedRepo(OWNER, "marker", "knot.test") !== undefined,
    "marker applied",
  );
  expect(service.tack.membership.trackedRepo(OWNER, "app", "knot.test")).toBeUndefined();
});

test("a repo record whose knot is not a host name is skipped and cannot break a restart", async () => {
  const jetstream = FakeJetstream.start();
  defer(() => jetstream.stop());
  const dir = tempDir();
  const first = await serviceFor(jetstream, 10_000, dir);
  await until(() => jetstream.openConnections === 1, "jetstream connected");
  for (const knot of [
    "evil.example#x",
    "evil.example/path",
    "user@evil.example",
    "evil example",
    "-bad.example",
  ]) {
    jetstream.commit(
      OWNER,
      "sh.tangled.repo",
      "create",
      newTid(),
      repoRecord({ name: "app", knot, spindle: HOSTNAME }),
    );
  }
  const marker = newTid();
  jetstream.commit(
    OWNER,
    "sh.tangled.repo",
    "create",
    marker,
    repoRecord({ name: "ok", knot: "knot.example:6000", spindle: HOSTNAME }),
  );
  await until(
    () => first.tack.membership.followedKnots().includes("knot.example:6000"),
    "valid record applied",
  );
  expect(first.tack.membership.followedKnots()).toEqual(["knot.example:6000"]);
  expect(first.logs.filter((l) => l.msg === "jetstream: skipping an invalid record")).toHaveLength(
    5,
  );
  await first.tack.stop();
  const second = await serviceFor(jetstream, 10_000, dir);
  expect((await fetch(`${second.http}/healthz`)).status).toBe(200);
});

test("a Jetstream event dated far in the future is refused and cannot freeze the cursor", async () => {
  const jetstream = FakeJetstream.start();
  defer(() => jetstream.stop());
  const service = await serviceFor(jetstream, 10_000);
  await until(() => jetstream.openConnections === 1, "jetstream connected");
  jetstream.sendRaw(
    JSON.stringify({ did: OWNER, time_us: 9_000_000_000_000_000, kind: "identity", identity: {} }),
  );
  jetstream.commit(
    OWNER,
    "sh.tangled.repo",
    "create",
    newTid(),
    repoRecord({ name: "app", knot: "knot.example", spindle: HOSTNAME }),
  );
  await until(
    () => service.tack.membership.followedKnots().includes("knot.example"),
    "later real event applied",
  );
  expect(
    service.logs.some((l) => l.msg === "jetstream: skipping an event dated in the future"),
  ).toBe(true);
});

test("collaborator records grant push rights only when the repo's owner wrote them", async () => {
  const jetstream = FakeJetstream.start();
  defer(() => jetstream.stop());
  const service = await serviceFor(jetstream, 10_000);
  await until(() => jetstream.openConnections === 1, "jetstream connected");
  const repoDid = "did:plc:repo0000000000000000000";
  const repoRkey = newTid();
  jetstream.commit(
    OWNER,
    "sh.tangled.repo",
    "create",
    repoRkey,
    repoRecord({ name: "app", knot: "knot.example", spindle: HOSTNAME, repoDid }),
  );
  await until(() => service.tack.membership.repoByDid(repoDid) !== undefined, "repo tracked");
  const repo = () => {
    const tracked = service.tack.membership.repoByDid(repoDid);
    if (!tracked) throw new Error("repo vanished");
    return tracked;
  };
  const collaborator = (author: string, subject: string, repoName: string) => {
    const rkey = newTid();
    jetstream.commit(author, "sh.tangled.repo.collaborator", "create", rkey, {
      $type: "sh.tangled.repo.collaborator",
      subject,
      repo: repoName,
      createdAt: "2026-11-26T20:00:00Z",
    });
    return rkey;
  };
  // A stranger names themselves and a member collaborators of the owner's repo: nothing.
  collaborator(STRANGER, STRANGER, `at://${OWNER}/sh.tangled.repo/${repoRkey}`);
  collaborator(STRANGER, MEMBER, repoDid);
  // The owner names the member, by repo DID, and a third DID by the record's at-uri.
  const byOwner = collaborator(OWNER, MEMBER, repoDid);
  collaborator(
    OWNER,
    "did:plc:third000000000000000000",
    `at://${OWNER}/sh.tangled.repo/${repoRkey}`,
  );
  await until(
    () => service.tack.membership.hasPushRights("did:plc:third000000000000000000", repo()),
    "the owner's records applied",
  );
  expect(service.tack.membership.hasPushRights(MEMBER, repo())).toBe(true);
  expect(service.tack.membership.hasPushRights(STRANGER, repo())).toBe(false);
  expect(service.tack.membership.hasPushRights(OWNER, repo())).toBe(true);
  // The stranger's records are not even kept.
  const stored = service.tack.database.sqlite
    .query("select count(*) as n from collaborators where did = ?")
    .get(STRANGER) as { n: bigint };
  expect(stored.n).toBe(0n);
  jetstream.commit(OWNER, "sh.tangled.repo.collaborator", "delete", byOwner);
  await until(() => !service.tack.membership.hasPushRights(MEMBER, repo()), "record deleted");
});
