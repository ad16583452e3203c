/**
 * Pushes as today's spindles take them: a knot announces sh.tangled.git.refUpdate, tack reads
 * .tangled/workflows at the pushed commit from the knot's XRPC, matches each file's `when:` and
 * makes one pipeline of the matching files, published on /events before its statuses. And a
 * push runs once whoever announces it: refUpdate, legacy knot pipeline, both, replayed, across
 * restarts, while the knot's XRPC fails.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { systemClock } from "../../src/clock.ts";
import type { CiPipeline } from "../../src/pipeline/ci-pipeline.ts";
import {
  announceRepo,
  ciNetwork,
  REPO_DID,
  restart,
  secondKnot,
  xrpcGet,
} from "../helpers/ci-network.ts";
import { cleanupAfterEach } from "../helpers/cleanup.ts";
import { compressedClock } from "../helpers/clock.ts";
import type { KnotFile } from "../helpers/fake-knot.ts";
import { assertLexiconOutput, assertLexiconRecord } from "../helpers/lexicons.ts";
import type { TestTack } from "../helpers/tack.ts";
import { eventually, until } from "../helpers/wait.ts";
import { freshSha, MEMBER, OWNER, pipelineRecord, refUpdateRecord } from "../helpers/wire.ts";
import { connect } from "../helpers/ws.ts";

setDefaultTimeout(30_000);
const defer = cleanupAfterEach();

const fake = (when: string) => `engine: tack\n${when}tack:\n  fake: {}\n`;
const FILES: KnotFile[] = [
  { name: "ci.yml", content: fake("when:\n  - event: push\n    branch: main\n") },
  {
    name: "docs.yml",
    content: fake("when:\n  - event: push\n    branch: main\n    paths: ['docs/**']\n"),
  },
  { name: "release.yml", content: fake("when:\n  - event: push\n    tag: 'v*'\n") },
  { name: "review.yml", content: fake("when:\n  - event: pull_request\n    branch: main\n") },
];

interface Frame {
  nsid: string;
  rkey: string;
  event: Record<string, unknown>;
}

/** Every pipeline tack recorded for REPO_DID, oldest first. */
async function pipelinesOf(service: TestTack): Promise<CiPipeline[]> {
  const answer = await xrpcGet<{ pipelines: CiPipeline[] }>(
    service,
    "sh.tangled.ci.queryPipelines",
    { repo: REPO_DID, limit: "250" },
  );
  return answer.body.pipelines.reverse();
}

/** How many times a workflow of this repo reached a provider, by workflow name. */
function spawns(service: TestTack): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of service.logs) {
    if (line.msg !== "dispatch: workflow spawned") continue;
    const name = String(line.workflow);
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

/** Waits until REPO_DID has `count` pipelines, every workflow finished; oldest first. */
function settledPipelines(service: TestTack, count: number): Promise<CiPipeline[]> {
  return eventually(
    () => pipelinesOf(service),
    (pipelines) =>
      pipelines.length === count &&
      pipelines.every((p) => p.workflows.every((w) => !["pending", "running"].includes(w.status))),
    `${count} pipelines settled`,
  );
}

describe("refUpdate", () => {
  test("a push becomes one pipeline of the workflows whose when: matches, published before its statuses", async () => {
    const { knot, service } = await ciNetwork(defer);
    const sha = freshSha();
    knot.commit(REPO_DID, sha, FILES, "trunk");
    const events = connect(`${service.ws}/events`);
    await events.opened;
    knot.push(
      "sh.tangled.git.refUpdate",
      refUpdateRecord({ repo: REPO_DID, newSha: sha, changedFiles: ["src/main.go"] }),
    );
    const [pipeline] = await settledPipelines(service, 1);
    assertLexiconOutput("sh.tangled.ci.getPipeline", pipeline);
    expect(pipeline?.workflows.map((w) => [w.name, w.status])).toEqual([["ci.yml", "success"]]);
    expect(pipeline?.trigger).toEqual({
      $type: "sh.tangled.ci.trigger#push",
      newSha: sha,
      oldSha: "0".repeat(40),
      ref: "refs/heads/main",
    });
    await until(() => events.frames.length >= 4, "pipeline and its statuses on /events");
    const frames = events.frames.map((frame) => JSON.parse(frame) as Frame);
    expect(frames.map((f) => f.nsid)).toEqual([
      "sh.tangled.pipeline",
      "sh.tangled.pipeline.status",
      "sh.tangled.pipeline.status",
      "sh.tangled.pipeline.status",
    ]);
    const record = frames[0]?.event ?? {};
    assertLexiconRecord("sh.tangled.pipeline", record);
    expect(frames[0]?.rkey).toBe(pipeline?.id);
    expect(record.triggerMetadata).toEqual({
      kind: "push",
      push: { newSha: sha, oldSha: "0".repeat(40), ref: "refs/heads/main" },
      repo: {
        defaultBranch: "trunk",
        did: OWNER,
        knot: knot.host,
        repo: expect.stringMatching(/^[a-z0-9]{13}$/),
        repoDid: REPO_DID,
      },
    });
    expect((record.workflows as { name: string }[]).map((w) => w.name)).toEqual(["ci.yml"]);
    // Read from the knot at the pushed commit, by repo DID.
    const tree = knot.xrpcRequests.find((url) => url.pathname.endsWith("repo.tree"));
    expect(tree?.searchParams.get("ref")).toBe(sha);
    expect(tree?.searchParams.get("repo")).toBe(REPO_DID);
    events.close();
  });

  test("paths match changed files, tags match tag patterns; nothing matching makes no pipeline", async () => {
    const { knot, service } = await ciNetwork(defer);
    const [docs, tag, other] = [freshSha(), freshSha(), freshSha()];
    for (const sha of [docs, tag, other]) knot.commit(REPO_DID, sha, FILES);
    knot.push(
      "sh.tangled.git.refUpdate",
      refUpdateRecord({ repo: REPO_DID, newSha: docs, changedFiles: ["docs/guide/a.md"] }),
    );
    knot.push(
      "sh.tangled.git.refUpdate",
      refUpdateRecord({ repo: REPO_DID, newSha: tag, ref: "refs/tags/v1.2.0" }),
    );
    knot.push(
      "sh.tangled.git.refUpdate",
      refUpdateRecord({ repo: REPO_DID, newSha: other, ref: "refs/heads/experiment" }),
    );
    const pipelines = await settledPipelines(service, 2);
    // Pushes of one burst are read side by side, so their pipelines may be minted in any order.
    expect(
      Object.fromEntries(pipelines.map((p) => [p.commit, p.workflows.map((w) => w.name)])),
    ).toEqual({
      [docs]: ["ci.yml", "docs.yml"],
      [tag]: ["release.yml"],
    });
    // The third push was read and matched nothing.
    await until(
      () => service.logs.some((l) => l.msg === "event: no workflow matches" && l.sha === other),
      "third push matched nothing",
    );
    expect(await pipelinesOf(service)).toHaveLength(2);
  });

  test("skip-ci, a deleted ref, an untracked repo and the wrong knot run nothing and read nothing", async () => {
    const network = await ciNetwork(defer);
    const { knot, service } = network;
    const elsewhere = await secondKnot(network, defer);
    const sha = freshSha();
    knot.commit(REPO_DID, sha, FILES);
    elsewhere.commit(REPO_DID, sha, FILES);
    knot.push(
      "sh.tangled.git.refUpdate",
      refUpdateRecord({ repo: REPO_DID, newSha: sha, pushOptions: ["verbose-ci", "skip-ci"] }),
    );
    knot.push(
      "sh.tangled.git.refUpdate",
      refUpdateRecord({ repo: REPO_DID, newSha: "0".repeat(40), oldSha: sha }),
    );
    knot.push(
      "sh.tangled.git.refUpdate",
      refUpdateRecord({ repo: "did:plc:notours00000000000000000", newSha: sha }),
    );
    elsewhere.push("sh.tangled.git.refUpdate", refUpdateRecord({ repo: REPO_DID, newSha: sha }));
    knot.push("sh.tangled.git.refUpdate", { ref: "refs/heads/main" });
    const outcomes = async () => {
      const text = await (await fetch(`${service.http}/metrics`)).text();
      return [...text.matchAll(/tack_pushes_total\{outcome="([a-z-]+)"\} (\d+)/g)].map((m) => [
        m[1],
        Number(m[2]),
      ]);
    };
    const counted = await eventually(outcomes, (found) => found.length === 5, "five outcomes");
    expect(Object.fromEntries(counted)).toEqual({
      "skip-ci": 1,
      "deleted-ref": 1,
      "repo-not-tracked": 1,
      "knot-mismatch": 1,
      malformed: 1,
    });
    expect(knot.xrpcRequests).toEqual([]);
    expect(elsewhere.xrpcRequests).toEqual([]);
    expect(await pipelinesOf(service)).toEqual([]);
  });

  test("an older knot's refUpdate names the repo by owner and name; its files are read that way", async () => {
    const network = await ciNetwork(defer);
    const { knot, service } = network;
    await announceRepo(network, { name: "legacy" });
    const sha = freshSha();
    knot.commit(`${OWNER}/legacy`, sha, FILES);
    knot.push("sh.tangled.git.refUpdate", refUpdateRecord({ legacyName: "legacy", newSha: sha }));
    const found = await eventually(
      async () =>
        (
          await xrpcGet<{ pipelines: CiPipeline[] }>(service, "sh.tangled.ci.queryPipelines", {
            repo: OWNER,
          })
        ).body.pipelines,
      (pipelines) => pipelines.length === 1,
      "legacy repo's pipeline",
    );
    expect(found[0]?.workflows.map((w) => w.name)).toEqual(["ci.yml"]);
    expect(knot.xrpcRequests[0]?.searchParams.get("repo")).toBe(`${OWNER}/legacy`);
  });
});

describe("a push runs once", () => {
  test("refUpdate then the knot's legacy pipeline for the same push: one build per workflow", async () => {
    const { knot, service } = await ciNetwork(defer);
    const sha = freshSha();
    knot.commit(REPO_DID, sha, FILES);
    knot.push("sh.tangled.git.refUpdate", refUpdateRecord({ repo: REPO_DID, newSha: sha }));
    const legacy = knot.push(
      "sh.tangled.pipeline",
      pipelineRecord({ knot: knot.host, did: OWNER, repoDid: REPO_DID, sha }),
    );
    // The legacy record was handled (held while the files were read, or found the push done).
    await until(
      () =>
        service.logs.some(
          (l) =>
            l.pipeline_rkey === legacy &&
            [
              "pipeline: held, the same push is being read from its refUpdate",
              "pipeline: duplicate ignored",
            ].includes(String(l.msg)),
        ),
      "legacy record handled",
    );
    const [pipeline] = await settledPipelines(service, 1);
    expect(pipeline?.id).not.toBe(legacy); // tack's own pipeline, from the refUpdate
    expect(pipeline?.workflows.map((w) => w.name)).toEqual(["ci.yml"]);
    expect(spawns(service)).toEqual({ "ci.yml": 1 });
  });

  test("the legacy pipeline first, then the refUpdate: the legacy one runs, once", async () => {
    const { knot, service } = await ciNetwork(defer);
    const sha = freshSha();
    knot.commit(REPO_DID, sha, FILES);
    const legacy = knot.push(
      "sh.tangled.pipeline",
      pipelineRecord({ knot: knot.host, did: OWNER, repoDid: REPO_DID, sha }),
    );
    knot.push("sh.tangled.git.refUpdate", refUpdateRecord({ repo: REPO_DID, newSha: sha }));
    const [pipeline] = await settledPipelines(service, 1);
    expect(pipeline?.id).toBe(legacy);
    await until(
      () => service.logs.some((l) => l.msg === "push: already announced, nothing more runs"),
      "refUpdate seen",
    );
    expect(spawns(service)).toEqual({ "ci.yml": 1 });
    expect(knot.xrpcRequests).toEqual([]); // nothing to read: the push had run
  });

  test("both announcements replayed to a restarted tack still run once", async () => {
    const first = await ciNetwork(defer);
    const { knot } = first;
    const sha = freshSha();
    knot.commit(REPO_DID, sha, FILES);
    knot.push("sh.tangled.git.refUpdate", refUpdateRecord({ repo: REPO_DID, newSha: sha }));
    knot.push(
      "sh.tangled.pipeline",
      pipelineRecord({ knot: knot.host, did: OWNER, repoDid: REPO_DID, sha }),
    );
    await settledPipelines(first.service, 1);
    // A new process on the same database; the knot has forgotten nothing and replays it all.
    const again = await restart(first, defer);
    await until(() => knot.openConnections === 1, "followed again");
    knot.dropAll();
    knot.push("sh.tangled.git.refUpdate", refUpdateRecord({ repo: REPO_DID, newSha: sha }));
    knot.push(
      "sh.tangled.pipeline",
      pipelineRecord({ knot: knot.host, did: OWNER, repoDid: REPO_DID, sha }),
    );
    await until(
      () =>
        again.logs.filter(
          (l) =>
            String(l.msg).includes("already announced") || l.msg === "pipeline: duplicate ignored",
        ).length >= 2,
      "both seen again",
    );
    expect(await pipelinesOf(again)).toHaveLength(1);
    expect(spawns(again)).toEqual({});
  });
});

describe("a knot whose XRPC fails", () => {
  test("is retried with backoff until it answers", async () => {
    const { knot, service } = await ciNetwork(defer);
    const sha = freshSha();
    knot.commit(REPO_DID, sha, FILES);
    knot.failXrpc(3, 503);
    knot.push("sh.tangled.git.refUpdate", refUpdateRecord({ repo: REPO_DID, newSha: sha }));
    const [pipeline] = await settledPipelines(service, 1);
    expect(pipeline?.workflows.map((w) => w.name)).toEqual(["ci.yml"]);
    expect(
      service.logs.filter((l) => l.msg === "event: workflow files unreadable, retrying"),
    ).toHaveLength(3);
  });

  test("meanwhile, the knot's legacy pipeline for the same push runs instead, once", async () => {
    const { knot, service } = await ciNetwork(defer);
    const sha = freshSha();
    knot.commit(REPO_DID, sha, FILES);
    knot.failXrpc(1_000, 502);
    knot.push("sh.tangled.git.refUpdate", refUpdateRecord({ repo: REPO_DID, newSha: sha }));
    const legacy = knot.push(
      "sh.tangled.pipeline",
      pipelineRecord({ knot: knot.host, did: OWNER, repoDid: REPO_DID, sha }),
    );
    const [pipeline] = await settledPipelines(service, 1);
    expect(pipeline?.id).toBe(legacy);
    expect(spawns(service)).toEqual({ "ci.yml": 1 });
  });

  test("for ten minutes, then tack gives up with a warning naming the repo, ref and error, counted in /metrics", async () => {
    const { knot, service } = await ciNetwork(defer);
    const sha = freshSha();
    knot.commit(REPO_DID, sha, FILES);
    knot.failXrpc(10_000, 503);
    knot.push("sh.tangled.git.refUpdate", refUpdateRecord({ repo: REPO_DID, newSha: sha }));
    await until(
      () =>
        service.logs.some((l) => l.msg === "event: giving up, the workflow files cannot be read"),
      "gave up",
    );
    const warning = service.logs.find(
      (l) => l.msg === "event: giving up, the workflow files cannot be read",
    );
    expect(warning).toMatchObject({ level: "warn", repo: REPO_DID, ref: "refs/heads/main", sha });
    expect(String(warning?.err)).toContain("503");
    const metrics = await (await fetch(`${service.http}/metrics`)).text();
    expect(metrics).toContain("tack_workflow_reads_abandoned_total 1");
    expect(await pipelinesOf(service)).toEqual([]);
    // Retried on a backoff, not in a tight loop: a dozen or so reads in ten minutes.
    const tries = knot.xrpcRequests.filter((url) => url.pathname.endsWith("repo.tree")).length;
    expect(tries).toBeGreaterThan(5);
    expect(tries).toBeLessThan(30);
  });

  test("a restart resumes the reads where they stopped", async () => {
    // The first process waits on the real clock, so its next read is seconds away when it stops.
    const first = await ciNetwork(defer, { clock: systemClock });
    const { knot } = first;
    const sha = freshSha();
    knot.commit(REPO_DID, sha, FILES);
    knot.failXrpc(1, 503);
    knot.push("sh.tangled.git.refUpdate", refUpdateRecord({ repo: REPO_DID, newSha: sha }));
    await until(
      () => first.service.logs.some((l) => l.msg === "event: workflow files unreadable, retrying"),
      "first read failed",
    );
    const again = await restart(first, defer, { clock: compressedClock() });
    const [pipeline] = await settledPipelines(again, 1);
    expect(pipeline?.commit).toBe(sha);
    expect(again.logs.some((l) => l.msg === "event: resuming")).toBe(true);
  });
});

describe("collaborators a knot announces", () => {
  test("the repo's own knot adds and removes push rights; another knot cannot", async () => {
    const network = await ciNetwork(defer);
    const { knot, service } = network;
    const elsewhere = await secondKnot(network, defer);
    const repo = () => {
      const found = service.tack.membership.repoByDid(REPO_DID);
      if (!found) throw new Error("repo not tracked");
      return found;
    };
    const update = (op: "add" | "remove") => ({ op, subject: MEMBER, repo: REPO_DID });
    // Another knot claims a collaborator for this repo: ignored.
    elsewhere.push("sh.tangled.repo.collaboratorUpdate", update("add"));
    await until(
      () =>
        service.logs.some(
          (l) => l.msg === "collaborator: ignored, not a repo of this spindle on that knot",
        ),
      "foreign update ignored",
    );
    expect(service.tack.membership.hasPushRights(MEMBER, repo())).toBe(false);
    knot.push("sh.tangled.repo.collaboratorUpdate", update("add"));
    await until(() => service.tack.membership.hasPushRights(MEMBER, repo()), "added");
    knot.push("sh.tangled.repo.collaboratorUpdate", {
      op: "promote",
      subject: MEMBER,
      repo: REPO_DID,
    });
    knot.push("sh.tangled.repo.collaboratorUpdate", update("remove"));
    await until(() => !service.tack.membership.hasPushRights(MEMBER, repo()), "removed");
    expect(service.logs.some((l) => l.msg === "collaborator: rejected, malformed update")).toBe(
      true,
    );
  });
});
