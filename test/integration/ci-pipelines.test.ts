/**
 * sh.tangled.ci.queryPipelines and sh.tangled.ci.getPipeline end to end, as today's appview
 * calls them: pipelines announced on a local knot, read back over HTTP from a real tack, every
 * answer held against Tangled's lexicons.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { CiPipeline } from "../../src/pipeline/ci-pipeline.ts";
import type { PipelineRecord } from "../../src/tangled/lexicons.ts";
import { announceRepo, ciNetwork, REPO_DID, xrpcGet } from "../helpers/ci-network.ts";
import { cleanupAfterEach } from "../helpers/cleanup.ts";
import type { FakeKnot } from "../helpers/fake-knot.ts";
import { assertLexiconOutput, assertLexiconRecord } from "../helpers/lexicons.ts";
import type { TestTack } from "../helpers/tack.ts";
import { until } from "../helpers/wait.ts";
import { FAKE_WORKFLOW, newTid, OWNER, pipelineRecord, STRANGER } from "../helpers/wire.ts";
import { connect } from "../helpers/ws.ts";

setDefaultTimeout(30_000);
const defer = cleanupAfterEach();

const QUERY = "sh.tangled.ci.queryPipelines";
const GET = "sh.tangled.ci.getPipeline";

interface Page {
  cursor?: string;
  pipelines: CiPipeline[];
  total: number;
}

const sha = (n: number) => n.toString(16).padStart(40, "0");

/** Announces a push of `commit` for the REPO_DID repo on the knot; resolves once recorded. */
async function announce(
  service: TestTack,
  knot: FakeKnot,
  commit: string,
  options: {
    kind?: "push" | "pull_request";
    ref?: string;
    workflows?: { name: string; raw: string }[];
  } = {},
): Promise<string> {
  const rkey = knot.push(
    "sh.tangled.pipeline",
    pipelineRecord({ knot: knot.host, did: OWNER, repoDid: REPO_DID, sha: commit, ...options }),
  );
  await until(() => service.tack.pipelines.get(rkey) !== undefined, `pipeline ${rkey} recorded`);
  return rkey;
}

/** Waits until every workflow of the pipeline reached a terminal status. */
async function settled(service: TestTack, knot: FakeKnot, rkey: string, names: string[]) {
  await until(
    () =>
      names.every((name) =>
        ["success", "failed", "timeout", "cancelled"].includes(
          service.tack.workflows.get({ knot: knot.host, pipelineRkey: rkey, name })?.status ?? "",
        ),
      ),
    `pipeline ${rkey} settled`,
  );
}

describe("queryPipelines", () => {
  test("a repo's pipelines come newest first, paged by cursor, with the total from the cursor on", async () => {
    const { knot, service } = await ciNetwork(defer);
    const rkeys: string[] = [];
    for (let i = 1; i <= 5; i++) rkeys.push(await announce(service, knot, sha(i)));
    const newestFirst = [...rkeys].reverse();

    const first = await xrpcGet<Page>(service, QUERY, { repo: REPO_DID, limit: "2" });
    expect(first.status).toBe(200);
    expect(first.contentType).toBe("application/json");
    expect(first.text.endsWith("}\n")).toBe(true);
    assertLexiconOutput(QUERY, first.body);
    expect(first.body.pipelines.map((p) => p.id)).toEqual(newestFirst.slice(0, 2));
    expect(first.body.total).toBe(5);
    expect(first.body.cursor).toMatch(/^\d+$/);

    const second = await xrpcGet<Page>(service, QUERY, {
      repo: REPO_DID,
      limit: "2",
      cursor: first.body.cursor ?? "",
    });
    assertLexiconOutput(QUERY, second.body);
    expect(second.body.pipelines.map((p) => p.id)).toEqual(newestFirst.slice(2, 4));
    expect(second.body.total).toBe(3);

    const last = await xrpcGet<Page>(service, QUERY, {
      repo: REPO_DID,
      limit: "2",
      cursor: second.body.cursor ?? "",
    });
    expect(last.body.pipelines.map((p) => p.id)).toEqual(newestFirst.slice(4));
    expect(last.body.total).toBe(1);
    expect(last.body.cursor).toBeUndefined(); // a short page has no cursor

    // The default page holds all five, newest first.
    const all = await xrpcGet<Page>(service, QUERY, { repo: REPO_DID });
    expect(all.body.pipelines.map((p) => p.id)).toEqual(newestFirst);
    expect(all.body.pipelines.map((p) => p.commit)).toEqual([5, 4, 3, 2, 1].map(sha));
  });

  test("commits keep the newest pipeline of each commit; kinds filter by trigger kind", async () => {
    const { knot, service } = await ciNetwork(defer);
    const a1 = await announce(service, knot, sha(0xa));
    const b = await announce(service, knot, sha(0xb));
    const aPull = await announce(service, knot, sha(0xa), { kind: "pull_request" });
    // The same commit pushed to another branch: a push of its own.
    const a2 = await announce(service, knot, sha(0xa), { ref: "refs/heads/release" });

    const ids = async (params: Record<string, string | string[]>) => {
      const answer = await xrpcGet<Page>(service, QUERY, { repo: REPO_DID, ...params });
      expect(answer.status).toBe(200);
      assertLexiconOutput(QUERY, answer.body);
      return { ids: answer.body.pipelines.map((p) => p.id), total: answer.body.total };
    };
    expect(await ids({ commits: sha(0xa) })).toEqual({ ids: [a2], total: 1 });
    expect(await ids({ commits: [sha(0xa), sha(0xb)] })).toEqual({ ids: [a2, b], total: 2 });
    expect(await ids({ kinds: "pull_request" })).toEqual({ ids: [aPull], total: 1 });
    expect(await ids({ kinds: "push" })).toEqual({ ids: [a2, b, a1], total: 3 });
    expect(await ids({ kinds: "push", commits: sha(0xa) })).toEqual({ ids: [a2], total: 1 });
    expect(await ids({ kinds: ["push", "pull_request"], commits: sha(0xb) })).toEqual({
      ids: [b],
      total: 1,
    });
    expect(await ids({ commits: sha(0xc) })).toEqual({ ids: [], total: 0 });
  });

  test("a repo without pipelines answers an empty array; other repos' pipelines never show", async () => {
    const { knot, service } = await ciNetwork(defer);
    await announce(service, knot, sha(1));
    const other = await xrpcGet<Page>(service, QUERY, { repo: "did:plc:someoneelse00000000000" });
    expect(other.status).toBe(200);
    expect(other.text).toBe('{"pipelines":[],"total":0}\n');
    assertLexiconOutput(QUERY, other.body);
  });

  test("pipelines of repos without a repo DID are listed under their owner's DID", async () => {
    const network = await ciNetwork(defer);
    const { knot, service } = network;
    await announceRepo(network, { name: "legacy" });
    const rkey = knot.push(
      "sh.tangled.pipeline",
      pipelineRecord({ knot: knot.host, did: OWNER, repo: "legacy" }),
    );
    await until(() => service.tack.pipelines.get(rkey) !== undefined, "legacy pipeline recorded");
    const page = await xrpcGet<Page>(service, QUERY, { repo: OWNER });
    assertLexiconOutput(QUERY, page.body);
    expect(page.body.pipelines.map((p) => [p.id, p.repo])).toEqual([[rkey, OWNER]]);
  });

  test("bad parameters are 400 InvalidRequest naming the parameter", async () => {
    const { knot, service } = await ciNetwork(defer);
    await announce(service, knot, sha(1));
    const cases: [Record<string, string | string[]>, string][] = [
      [{}, "repo"],
      [{ repo: "not-a-did" }, "repo"],
      [{ repo: [REPO_DID, REPO_DID] }, "repo"],
      [{ repo: REPO_DID, limit: "0" }, "limit"],
      [{ repo: REPO_DID, limit: "-3" }, "limit"],
      [{ repo: REPO_DID, limit: "ten" }, "limit"],
      [{ repo: REPO_DID, cursor: "abc" }, "cursor"],
      [{ repo: REPO_DID, cursor: "-1" }, "cursor"],
      [{ repo: REPO_DID, cursor: "99999999999999999999" }, "cursor"],
      [{ repo: REPO_DID, kinds: "deploy" }, "kinds"],
      [{ repo: REPO_DID, commits: "main" }, "commits"],
    ];
    for (const [params, name] of cases) {
      const answer = await xrpcGet(service, QUERY, params);
      expect(answer.status).toBe(400);
      expect(answer.contentType).toBe("application/json");
      expect(answer.body.error).toBe("InvalidRequest");
      expect(answer.body.message).toStartWith(`${name}:`);
    }
  });

  test("limit above 250 is capped at 250", async () => {
    const { knot, service } = await ciNetwork(defer);
    const record = pipelineRecord({ knot: knot.host, did: OWNER, repoDid: REPO_DID });
    for (let i = 0; i < 251; i++) {
      await service.tack.pipelines.recordFromKnot(knot.host, newTid(), record as PipelineRecord);
    }
    const page = await xrpcGet<Page>(service, QUERY, { repo: REPO_DID, limit: "1000" });
    expect(page.status).toBe(200);
    expect(page.body.pipelines).toHaveLength(250);
    expect(page.body.total).toBe(251);
    expect(page.body.cursor).toMatch(/^\d+$/);
  });

  test("answering walks the pipelines table's indexes, never a table scan", async () => {
    const { service } = await ciNetwork(defer);
    const plans = [
      { repo: REPO_DID, limit: 30 },
      { repo: REPO_DID, limit: 30, before: 123n },
      { repo: REPO_DID, limit: 30, kinds: ["push" as const] },
      { repo: REPO_DID, limit: 30, kinds: ["push" as const], before: 123n },
      { repo: REPO_DID, limit: 30, commits: [sha(1), sha(2)] },
    ].map((query) => service.tack.pipelines.explain(query));
    for (const plan of plans) {
      expect(plan.length).toBeGreaterThan(0);
      for (const step of plan) {
        // Only the bound lists (a JSON array of kinds or commits) are ever scanned.
        expect(step).not.toMatch(/^SCAN (?!json_each)/);
        expect(step).not.toContain("events");
        expect(step).not.toContain("TEMP B-TREE"); // newest first straight from the index
      }
      expect(plan.some((step) => /USING (COVERING )?INDEX pipelines_repo/.test(step))).toBe(true);
    }
  });
});

describe("getPipeline", () => {
  test("the bare pipeline, with each workflow's status, times and error from its statuses", async () => {
    const { knot, service } = await ciNetwork(defer);
    const workflows = [
      FAKE_WORKFLOW,
      { name: "fails.yml", raw: "engine: tack\ntack:\n  fake: { result: failed }\n" },
      { name: "plain.yml", raw: "engine: nixery\nsteps: []\n" },
    ];
    const rkey = await announce(service, knot, sha(7), { workflows });
    await settled(service, knot, rkey, ["ci.yml", "fails.yml", "plain.yml"]);

    const answer = await xrpcGet<CiPipeline>(service, GET, { pipeline: rkey });
    expect(answer.status).toBe(200);
    assertLexiconOutput(GET, answer.body);
    const pipeline = answer.body;
    expect(pipeline.id).toBe(rkey);
    expect(pipeline.repo).toBe(REPO_DID);
    expect(pipeline.commit).toBe(sha(7));
    expect(pipeline.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(pipeline.trigger).toEqual({
      $type: "sh.tangled.ci.trigger#push",
      newSha: sha(7),
      oldSha: "0".repeat(40),
      ref: "refs/heads/main",
    });
    expect(pipeline.workflows.map((w) => [w.id, w.name, w.status])).toEqual([
      ["ci.yml", "ci.yml", "success"],
      ["fails.yml", "fails.yml", "failed"],
      ["plain.yml", "plain.yml", "failed"],
    ]);
    const [ok, fails, plain] = pipeline.workflows;
    expect(ok?.error).toBeUndefined();
    expect(ok?.startedAt).toMatch(/Z$/);
    expect(ok?.finishedAt).toMatch(/Z$/);
    expect(String(ok?.startedAt) < String(ok?.finishedAt)).toBe(true);
    expect(fails?.error).toBe("fake workflow failed as configured");
    // Failed before it reached a CI: it never ran, so it has an end but no start.
    expect(plain?.startedAt).toBeUndefined();
    expect(plain?.finishedAt).toMatch(/Z$/);
    expect(plain?.error).toStartWith('workflow has no "tack:" block');
    // Keys in the order Go's generated structs write them.
    expect(answer.text.indexOf('"commit"')).toBeLessThan(answer.text.indexOf('"createdAt"'));
    expect(answer.text).toStartWith('{"commit":');
  });

  test("a pipeline whose workflows have no status yet shows them pending", async () => {
    const { knot, service } = await ciNetwork(defer);
    const rkey = newTid();
    // Recorded but not yet dispatched (as right after a crash).
    await service.tack.pipelines.recordFromKnot(
      knot.host,
      rkey,
      pipelineRecord({
        knot: knot.host,
        did: OWNER,
        repoDid: REPO_DID,
        kind: "pull_request",
        sha: "3f4c1e2d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
      }) as PipelineRecord,
    );
    const answer = await xrpcGet<CiPipeline>(service, GET, { pipeline: rkey });
    assertLexiconOutput(GET, answer.body);
    expect(answer.body.workflows).toEqual([{ id: "ci.yml", name: "ci.yml", status: "pending" }]);
    // A knot's "create" is today's "opened".
    expect(answer.body.trigger).toEqual({
      $type: "sh.tangled.ci.trigger#pullRequest",
      action: "opened",
      sourceBranch: "feature",
      sourceSha: "3f4c1e2d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
      targetBranch: "main",
    });
  });

  test("an unknown pipeline is 404 PipelineNotFound, a malformed id 400 InvalidRequest", async () => {
    const { service } = await ciNetwork(defer);
    const unknown = await xrpcGet(service, GET, { pipeline: "3m6mxh2znw222" });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({
      error: "PipelineNotFound",
      message: "pipeline not found: 3m6mxh2znw222",
    });
    for (const params of [{}, { pipeline: "nope" }, { pipeline: "3m6mxh2znw22" }] as Record<
      string,
      string
    >[]) {
      const bad = await xrpcGet(service, GET, params);
      expect(bad.status).toBe(400);
      expect(bad.body.error).toBe("InvalidRequest");
      expect(bad.body.message).toStartWith("pipeline:");
    }
  });
});

describe("repos by DID", () => {
  test("a repo record without a name is followed, and its knot pipelines run by repo DID", async () => {
    const network = await ciNetwork(defer);
    const { knot, service } = network;
    const repoDid = "did:plc:nameless000000000000000";
    await announceRepo(network, { repoDid }); // no name: today's records may leave it out
    expect(service.tack.membership.repoByDid(repoDid)?.name).toBeNull();
    const rkey = knot.push(
      "sh.tangled.pipeline",
      pipelineRecord({ knot: knot.host, did: OWNER, repoDid }),
    );
    await settled(service, knot, rkey, ["ci.yml"]);
    const page = await xrpcGet<Page>(service, QUERY, { repo: repoDid });
    expect(page.body.pipelines.map((p) => p.id)).toEqual([rkey]);
  });

  test("a repo DID registered by one owner cannot be claimed by another", async () => {
    const network = await ciNetwork(defer);
    const { knot, service } = network;
    // A stranger's record names the owner's repo DID on another knot.
    await announceRepo(network, {
      did: STRANGER,
      name: "app",
      knot: "evil.example",
      repoDid: REPO_DID,
    });
    expect(service.logs.some((l) => String(l.msg).startsWith("jetstream: repo refused"))).toBe(
      true,
    );
    expect(service.tack.membership.repoByDid(REPO_DID)?.did).toBe(OWNER);
    expect(service.tack.membership.repoByDid(REPO_DID)?.knot).toBe(knot.host);
  });
});

describe("pipelines tack makes", () => {
  test("are published on /events as sh.tangled.pipeline before their statuses; knots' are not", async () => {
    const { knot, service } = await ciNetwork(defer);
    const events = connect(`${service.ws}/events`);
    await events.opened;
    const fromKnot = await announce(service, knot, sha(1));
    await settled(service, knot, fromKnot, ["ci.yml"]);

    const record = pipelineRecord({ knot: knot.host, did: OWNER, repoDid: REPO_DID, sha: sha(2) });
    const made = await service.tack.pipelines.create(record as PipelineRecord);
    service.tack.runner.run(made);
    await settled(service, knot, made.rkey, ["ci.yml"]);
    await until(() => events.frames.length >= 7, "every frame");

    const frames = events.frames.map(
      (frame) =>
        JSON.parse(frame) as { nsid: string; rkey: string; event: Record<string, unknown> },
    );
    const pipelineFrames = frames.filter((f) => f.nsid === "sh.tangled.pipeline");
    expect(pipelineFrames.map((f) => f.rkey)).toEqual([made.rkey]);
    const published = pipelineFrames[0]?.event;
    expect(published?.$type).toBe("sh.tangled.pipeline");
    assertLexiconRecord("sh.tangled.pipeline", published);
    const firstStatusOfMade = frames.findIndex(
      (f) =>
        f.nsid === "sh.tangled.pipeline.status" && String(f.event.pipeline).endsWith(made.rkey),
    );
    expect(frames.findIndex((f) => f.nsid === "sh.tangled.pipeline")).toBeLessThan(
      firstStatusOfMade,
    );
    expect(frames[firstStatusOfMade]?.event.pipeline).toBe(
      `at://did:web:${knot.host}/sh.tangled.pipeline/${made.rkey}`,
    );
    // Its id never collides with a status rkey, and getPipeline finds it.
    expect(new Set(frames.map((f) => f.rkey)).size).toBe(frames.length);
    const answer = await xrpcGet<CiPipeline>(service, GET, { pipeline: made.rkey });
    expect(answer.body.workflows.map((w) => w.status)).toEqual(["success"]);
    events.close();
  });
});
