/**
 * Same-repo pull requests from Jetstream: sh.tangled.repo.pull (opened, synchronize) and
 * sh.tangled.repo.pull.status (reopened, closed, merged) for a repo this spindle serves; the
 * round's commit read from the author's PDS (the last patch of a gzip'd format-patch blob);
 * workflows read from the target repo at that commit and matched with the pull request rules.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { gzipSync } from "node:zlib";
import type { CiPipeline } from "../../src/pipeline/ci-pipeline.ts";
import { ciNetwork, REPO_DID, xrpcGet } from "../helpers/ci-network.ts";
import { cleanupAfterEach } from "../helpers/cleanup.ts";
import { FakeAtproto } from "../helpers/fake-atproto.ts";
import type { KnotFile } from "../helpers/fake-knot.ts";
import type { TestTack } from "../helpers/tack.ts";
import { eventually, until } from "../helpers/wait.ts";
import {
  formatPatch,
  freshSha,
  MEMBER,
  newTid,
  OWNER,
  pipelineRecord,
  pullRecord,
  STRANGER,
} from "../helpers/wire.ts";

setDefaultTimeout(30_000);
const defer = cleanupAfterEach();

const fake = (when: string) => `engine: tack\n${when}tack:\n  fake: {}\n`;
const FILES: KnotFile[] = [
  { name: "ci.yml", content: fake("when:\n  - event: push\n    branch: main\n") },
  { name: "review.yml", content: fake("when:\n  - event: pull_request\n    branch: main\n") },
  {
    name: "after.yml",
    content: fake(
      "when:\n  - event: pull_request\n    branch: main\n    types: [closed, merged]\n",
    ),
  },
];

async function network() {
  const atproto = FakeAtproto.start();
  defer(() => atproto.stop());
  for (const did of [OWNER, MEMBER, STRANGER]) atproto.addIdentity(did);
  const { jetstream, knot, service } = await ciNetwork(defer, {}, { plcUrl: atproto.url });
  return { atproto, jetstream, knot, service };
}

/** Stores a round's patch (ending at `commit`) on the PDS; returns its blob CID. */
function round(atproto: FakeAtproto, ...commits: string[]): string {
  return atproto.putBlob(new Uint8Array(gzipSync(formatPatch(commits))));
}

async function pipelines(service: TestTack, count: number): Promise<CiPipeline[]> {
  return eventually(
    async () =>
      (
        await xrpcGet<{ pipelines: CiPipeline[] }>(service, "sh.tangled.ci.queryPipelines", {
          repo: REPO_DID,
          kinds: "pull_request",
        })
      ).body.pipelines.reverse(),
    (found) =>
      found.length === count &&
      found.every((p) => p.workflows.every((w) => !["pending", "running"].includes(w.status))),
    `${count} pull request pipelines`,
  );
}

describe("pull requests", () => {
  test("opened: the PR workflows run at the last commit of the round's patch", async () => {
    const { atproto, jetstream, knot, service } = await network();
    const [first, head] = [freshSha(), freshSha()];
    knot.commit(REPO_DID, head, FILES);
    const cid = round(atproto, first, head);
    const rkey = newTid();
    jetstream.commit(
      OWNER,
      "sh.tangled.repo.pull",
      "create",
      rkey,
      pullRecord({
        targetRepo: REPO_DID,
        rounds: [cid],
      }),
    );
    const [pipeline] = await pipelines(service, 1);
    expect(pipeline?.workflows.map((w) => [w.name, w.status])).toEqual([["review.yml", "success"]]);
    expect(pipeline?.trigger).toEqual({
      $type: "sh.tangled.ci.trigger#pullRequest",
      action: "opened",
      sourceBranch: "feature",
      sourceSha: head,
      targetBranch: "main",
    });
    expect(pipeline?.commit).toBe(head);
    const blob = atproto.requests.find((url) => url.pathname.endsWith("sync.getBlob"));
    expect(blob?.searchParams.get("did")).toBe(OWNER);
    expect(blob?.searchParams.get("cid")).toBe(cid);
  });

  test("a new round runs as synchronize; closing runs only the workflows whose types ask for it", async () => {
    const { atproto, jetstream, knot, service } = await network();
    const [one, two] = [freshSha(), freshSha()];
    knot.commit(REPO_DID, one, FILES);
    knot.commit(REPO_DID, two, FILES);
    const rkey = newTid();
    const first = round(atproto, one);
    jetstream.commit(
      OWNER,
      "sh.tangled.repo.pull",
      "create",
      rkey,
      pullRecord({ targetRepo: REPO_DID, rounds: [first] }),
    );
    await pipelines(service, 1);
    jetstream.commit(
      OWNER,
      "sh.tangled.repo.pull",
      "update",
      rkey,
      pullRecord({
        targetRepo: REPO_DID,
        rounds: [first, round(atproto, two)],
      }),
    );
    const [, synced] = await pipelines(service, 2);
    expect(synced?.trigger).toMatchObject({ action: "synchronize", sourceSha: two });
    jetstream.commit(OWNER, "sh.tangled.repo.pull.status", "create", newTid(), {
      $type: "sh.tangled.repo.pull.status",
      pull: `at://${OWNER}/sh.tangled.repo.pull/${rkey}`,
      status: "sh.tangled.repo.pull.status.closed",
    });
    const [, , closed] = await pipelines(service, 3);
    expect(closed?.trigger).toMatchObject({ action: "closed", sourceSha: two });
    expect(closed?.workflows.map((w) => w.name)).toEqual(["after.yml"]);
    jetstream.commit(OWNER, "sh.tangled.repo.pull.status", "create", newTid(), {
      $type: "sh.tangled.repo.pull.status",
      pull: `at://${OWNER}/sh.tangled.repo.pull/${rkey}`,
      status: "sh.tangled.repo.pull.status.open",
    });
    const all = await pipelines(service, 4);
    expect(all[3]?.trigger).toMatchObject({ action: "reopened" });
    expect(all[3]?.workflows.map((w) => w.name)).toEqual(["review.yml"]);
  });

  test("an author without push rights runs nothing; a collaborator the owner named does", async () => {
    const { atproto, jetstream, knot, service } = await network();
    const sha = freshSha();
    knot.commit(REPO_DID, sha, FILES);
    const cid = round(atproto, sha);
    jetstream.commit(
      STRANGER,
      "sh.tangled.repo.pull",
      "create",
      newTid(),
      pullRecord({ targetRepo: REPO_DID, rounds: [cid] }),
    );
    await until(
      () =>
        service.logs.some(
          (l) => l.msg === "pull: rejected, its author has no push rights on the repo",
        ),
      "stranger refused",
    );
    jetstream.commit(OWNER, "sh.tangled.repo.collaborator", "create", newTid(), {
      $type: "sh.tangled.repo.collaborator",
      subject: MEMBER,
      repo: REPO_DID,
      createdAt: "2026-12-01T10:00:00Z",
    });
    const byMember = newTid();
    jetstream.commit(
      MEMBER,
      "sh.tangled.repo.pull",
      "create",
      byMember,
      pullRecord({
        targetRepo: REPO_DID,
        sourceBranch: "member-work",
        rounds: [cid],
      }),
    );
    const [pipeline] = await pipelines(service, 1);
    expect(pipeline?.trigger).toMatchObject({ sourceBranch: "member-work" });
    // Closing someone else's pull request needs push rights too.
    jetstream.commit(STRANGER, "sh.tangled.repo.pull.status", "create", newTid(), {
      $type: "sh.tangled.repo.pull.status",
      pull: `at://${MEMBER}/sh.tangled.repo.pull/${byMember}`,
      status: "sh.tangled.repo.pull.status.merged",
    });
    await until(
      () =>
        service.logs.some(
          (l) => l.msg === "pull: status rejected, its writer has no push rights on the repo",
        ),
      "stranger's status refused",
    );
    expect(atproto.requests.filter((url) => url.searchParams.get("did") === STRANGER)).toEqual([]);
  });

  test("fork and patch pull requests are not taken from Jetstream; older records name their commit", async () => {
    const { jetstream, knot, service } = await network();
    const sha = freshSha();
    knot.commit(REPO_DID, sha, FILES);
    jetstream.commit(
      OWNER,
      "sh.tangled.repo.pull",
      "create",
      newTid(),
      pullRecord({
        targetRepo: REPO_DID,
        sourceRepo: "did:plc:fork0000000000000000000",
        sourceSha: sha,
      }),
    );
    jetstream.commit(OWNER, "sh.tangled.repo.pull", "create", newTid(), {
      ...pullRecord({ targetRepo: REPO_DID }),
      source: undefined,
      patch: "diff --git a/x b/x",
    });
    jetstream.commit(
      OWNER,
      "sh.tangled.repo.pull",
      "create",
      newTid(),
      pullRecord({
        targetRepo: REPO_DID,
        sourceBranch: "old-style",
        sourceSha: sha,
      }),
    );
    const found = await pipelines(service, 1);
    expect(found[0]?.trigger).toMatchObject({ sourceBranch: "old-style", sourceSha: sha });
  });

  test("a PDS that fails is retried; the same pull request announced by the knot too runs once", async () => {
    const { atproto, jetstream, knot, service } = await network();
    const sha = freshSha();
    knot.commit(REPO_DID, sha, FILES);
    atproto.failBlobs(2);
    jetstream.commit(
      OWNER,
      "sh.tangled.repo.pull",
      "create",
      newTid(),
      pullRecord({
        targetRepo: REPO_DID,
        rounds: [round(atproto, sha)],
      }),
    );
    const legacy = knot.push(
      "sh.tangled.pipeline",
      pipelineRecord({
        knot: knot.host,
        did: OWNER,
        repoDid: REPO_DID,
        kind: "pull_request",
        sha,
        workflows: [{ name: "review.yml", raw: FILES[1]?.content ?? "" }],
      }),
    );
    const [pipeline] = await pipelines(service, 1);
    await until(
      () =>
        service.logs.some(
          (l) =>
            String(l.msg).startsWith("pull: already announced") ||
            (l.msg === "pipeline: accepted" && l.pipeline_rkey === legacy),
        ),
      "second announcement handled",
    );
    expect(await pipelines(service, 1)).toHaveLength(1);
    expect(pipeline?.commit).toBe(sha);
    const spawned = service.logs.filter((l) => l.msg === "dispatch: workflow spawned");
    expect(spawned).toHaveLength(1);
    const blobReads = atproto.requests.filter((url) => url.pathname.endsWith("sync.getBlob"));
    expect(blobReads.length).toBeGreaterThanOrEqual(2); // failed reads were retried
  });
});
