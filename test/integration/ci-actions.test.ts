/**
 * The authenticated half of sh.tangled.ci, end to end: real service-auth tokens (ES256 and
 * ES256K, keys in DID documents served by a PLC stand-in) checked in full before anything
 * happens; push rights; manual runs, retries and fork pull requests (triggerPipeline); cancel
 * (cancelPipeline) against a CI stand-in whose builds keep running.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { CiPipeline } from "../../src/pipeline/ci-pipeline.ts";
import {
  AUDIENCE,
  actionsNetwork,
  caller,
  REPO_DID,
  xrpcPost,
} from "../helpers/actions-network.ts";
import { announceRepo, xrpcGet } from "../helpers/ci-network.ts";
import { cleanupAfterEach } from "../helpers/cleanup.ts";
import { FakeKnot, type KnotFile } from "../helpers/fake-knot.ts";
import { assertLexiconOutput } from "../helpers/lexicons.ts";
import { createSigner, serviceToken } from "../helpers/service-auth.ts";
import type { TestTack } from "../helpers/tack.ts";
import { eventually, until } from "../helpers/wait.ts";
import { freshSha, MEMBER, newTid, OWNER } from "../helpers/wire.ts";

setDefaultTimeout(30_000);
const defer = cleanupAfterEach();

const TRIGGER = "sh.tangled.ci.triggerPipeline";
const CANCEL = "sh.tangled.ci.cancelPipeline";

const FILES: KnotFile[] = [
  {
    name: "build.yml",
    content: "engine: tack\nwhen:\n  - event: push\n    branch: main\ntack:\n  held: {}\n",
  },
  { name: "lint.yml", content: "engine: tack\ntack:\n  held: {}\n" },
  {
    name: "review.yml",
    content: "engine: tack\nwhen:\n  - event: pull_request\n    branch: main\ntack:\n  held: {}\n",
  },
];

const manual = (sha: string, extra: Record<string, unknown> = {}) => ({
  repo: REPO_DID,
  trigger: { $type: "sh.tangled.ci.trigger#manual", sha, ...extra },
});

async function pipelineOf(service: TestTack, uri: string | undefined): Promise<CiPipeline> {
  const id = uri?.split("/").at(-1) ?? "";
  return (await xrpcGet<CiPipeline>(service, "sh.tangled.ci.getPipeline", { pipeline: id })).body;
}

describe("service auth", () => {
  for (const alg of ["ES256", "ES256K"] as const) {
    test(`a valid ${alg} token from the repo's owner runs a manual pipeline`, async () => {
      const { knot, service, owner } = await actionsNetwork(defer, alg);
      const sha = freshSha();
      knot.commit(REPO_DID, sha, FILES);
      const answer = await xrpcPost(service, TRIGGER, manual(sha), owner.auth(TRIGGER));
      expect(answer.status).toBe(200);
      expect(answer.body.pipeline).toMatch(
        new RegExp(
          `^at://did:web:${knot.host.replace(".", "\\.")}/sh\\.tangled\\.pipeline/[a-z2-7]{13}$`,
        ),
      );
      assertLexiconOutput(TRIGGER, answer.body);
    });
  }

  test("every way a token can be wrong is 403 Auth, and nothing happens", async () => {
    const { atproto, knot, service, owner } = await actionsNetwork(defer);
    const sha = freshSha();
    knot.commit(REPO_DID, sha, FILES);
    const other = createSigner("ES256");
    const unknownDid = "did:plc:nobody0000000000000000000";
    const token = (claims: Parameters<typeof serviceToken>[1], signer = owner.signer) =>
      `Bearer ${serviceToken(signer, claims)}`;
    const cases: [string, string | undefined, string][] = [
      ["no header", undefined, "missing bearer token"],
      ["not a bearer", "Basic dXNlcjpwYXNz", "missing bearer token"],
      ["garbage", "Bearer not.a.jwt.at.all", "malformed"],
      [
        "wrong audience",
        owner.auth(TRIGGER, { aud: "did:web:other.example" }),
        "not did:web:spindle.test",
      ],
      [
        "audience with a raw port",
        owner.auth(TRIGGER, { aud: "did:web:spindle.test:443" }),
        "not did:web",
      ],
      ["no lxm", owner.auth(TRIGGER, { lxm: null }), "names no method"],
      ["another method", owner.auth(TRIGGER, { lxm: CANCEL }), `not ${TRIGGER}`],
      ["expired", token({ iss: OWNER, aud: AUDIENCE, lxm: TRIGGER, expiresIn: -60 }), "expired"],
      [
        "issued in the future",
        token({ iss: OWNER, aud: AUDIENCE, lxm: TRIGGER, issuedIn: 300 }),
        "future",
      ],
      [
        "not yet valid",
        token({ iss: OWNER, aud: AUDIENCE, lxm: TRIGGER, notBeforeIn: 300 }),
        "not valid yet",
      ],
      [
        "someone else's key",
        token({ iss: OWNER, aud: AUDIENCE, lxm: TRIGGER }, other),
        "signature",
      ],
      [
        "an unknown DID",
        token({ iss: unknownDid, aud: AUDIENCE, lxm: TRIGGER }),
        "no such identity",
      ],
    ];
    for (const [what, header, reason] of cases) {
      const answer = await xrpcPost(service, TRIGGER, manual(sha), header);
      expect([what, answer.status, answer.body.error]).toEqual([what, 403, "Auth"]);
      expect(answer.body.message).toContain(reason);
      expect(answer.text).not.toContain("eyJ"); // the token is never echoed
    }
    expect(knot.xrpcRequests).toEqual([]);
    expect(
      (
        await xrpcGet<{ total: number }>(service, "sh.tangled.ci.queryPipelines", {
          repo: REPO_DID,
        })
      ).body.total,
    ).toBe(0);
    // The unknown DID was looked up; the expired token's issuer was never even asked for.
    expect(atproto.requests.some((url) => url.pathname.endsWith(unknownDid))).toBe(true);
  });

  test("a rotated key: the cached document is refreshed once, and the new key works", async () => {
    const { atproto, knot, service, owner } = await actionsNetwork(defer);
    const sha = freshSha();
    knot.commit(REPO_DID, sha, FILES);
    expect((await xrpcPost(service, TRIGGER, manual(sha), owner.auth(TRIGGER))).status).toBe(200);
    const rotated = caller(OWNER, createSigner("ES256K"));
    atproto.addIdentity(OWNER, { signingKey: rotated.signer.multikey });
    const before = atproto.requests.length;
    expect((await xrpcPost(service, TRIGGER, manual(sha), rotated.auth(TRIGGER))).status).toBe(200);
    expect(atproto.requests.length).toBe(before + 1); // one fresh lookup
    // The old key no longer works.
    const old = await xrpcPost(service, TRIGGER, manual(sha), owner.auth(TRIGGER));
    expect([old.status, old.body.error]).toEqual([403, "Auth"]);
  });
});

describe("triggerPipeline", () => {
  test("a manual run takes every workflow (or those listed), with its ref and inputs", async () => {
    const { knot, service, owner } = await actionsNetwork(defer);
    const sha = freshSha();
    knot.commit(REPO_DID, sha, FILES, "trunk");
    const all = await xrpcPost(
      service,
      TRIGGER,
      manual(sha, { ref: "refs/heads/feature", inputs: [{ key: "DEPLOY", value: "staging" }] }),
      owner.auth(TRIGGER),
    );
    const pipeline = await pipelineOf(service, all.body.pipeline);
    assertLexiconOutput("sh.tangled.ci.getPipeline", pipeline);
    expect(pipeline.workflows.map((w) => w.name)).toEqual(["build.yml", "lint.yml", "review.yml"]);
    expect(pipeline.trigger).toEqual({
      $type: "sh.tangled.ci.trigger#manual",
      inputs: [{ key: "DEPLOY", value: "staging" }],
      ref: "refs/heads/feature",
      sha,
    });
    const stored = service.tack.pipelines.get(pipeline.id);
    expect(stored?.record.triggerMetadata.repo.defaultBranch).toBe("trunk");
    // The workflows reached their CI with the trigger, inputs included.
    await until(
      () =>
        service.tack.workflows.get({ knot: knot.host, pipelineRkey: pipeline.id, name: "lint.yml" })
          ?.status === "running",
      "running",
    );
    expect(
      service.tack.workflows.get({ knot: knot.host, pipelineRkey: pipeline.id, name: "lint.yml" })
        ?.context,
    ).toMatchObject({ kind: "manual", manual: { inputs: [{ key: "DEPLOY", value: "staging" }] } });

    const some = await xrpcPost(
      service,
      TRIGGER,
      { ...manual(sha), workflows: ["lint.yml"] },
      owner.auth(TRIGGER),
    );
    expect((await pipelineOf(service, some.body.pipeline)).workflows.map((w) => w.name)).toEqual([
      "lint.yml",
    ]);
  });

  test("a fork's pull request reads the fork's workflows at its commit", async () => {
    const network = await actionsNetwork(defer);
    const { knot, service, owner } = network;
    // The fork lives on another knot and is a repo this spindle knows of.
    const forkKnot = FakeKnot.start();
    defer(() => forkKnot.stop());
    const forkDid = "did:plc:fork0000000000000000000";
    // Known here through a repo record naming this spindle.
    await announceRepo(network, { name: "fork-on-us", knot: forkKnot.host, repoDid: forkDid });
    expect(service.tack.membership.repoByDid(forkDid)).toBeDefined();
    const sha = freshSha();
    forkKnot.commit(forkDid, sha, FILES);
    const answer = await xrpcPost(
      service,
      TRIGGER,
      {
        repo: REPO_DID,
        trigger: {
          $type: "sh.tangled.ci.trigger#pullRequest",
          sourceSha: sha,
          sourceBranch: "patch-1",
          targetBranch: "main",
          sourceRepo: forkDid,
          pull: `at://${MEMBER}/sh.tangled.repo.pull/${newTid()}`,
        },
      },
      owner.auth(TRIGGER),
    );
    expect(answer.status).toBe(200);
    const pipeline = await pipelineOf(service, answer.body.pipeline);
    expect(pipeline.sourceRepo).toBe(forkDid);
    expect(pipeline.repo).toBe(REPO_DID);
    expect(pipeline.workflows.map((w) => w.name)).toEqual(["lint.yml", "review.yml"]);
    expect(knot.xrpcRequests.filter((url) => url.pathname.endsWith("repo.tree"))).toEqual([]);
    expect(forkKnot.xrpcRequests[0]?.searchParams.get("repo")).toBe(forkDid);
  });

  test("refusals: a stranger, an unknown repo, a bad trigger, a bad commit, nothing to run", async () => {
    const { knot, service, owner, stranger } = await actionsNetwork(defer);
    const sha = freshSha();
    knot.commit(REPO_DID, sha, FILES);
    knot.commit(REPO_DID, "e".repeat(40), []);
    const cases: [string, unknown, string, number, string, string][] = [
      [
        "stranger",
        manual(sha),
        stranger.did,
        400,
        "AccessControl",
        "DID does not have sufficient access",
      ],
      [
        "unknown repo",
        { ...manual(sha), repo: "did:plc:unknown00000000000000000" },
        OWNER,
        400,
        "RepoNotFound",
        "",
      ],
      [
        "repo not a DID",
        { ...manual(sha), repo: "app" },
        OWNER,
        400,
        "InvalidRequest",
        "invalid repo DID",
      ],
      ["no trigger", { repo: REPO_DID }, OWNER, 400, "InvalidRequest", "trigger is required"],
      [
        "odd trigger",
        { repo: REPO_DID, trigger: { $type: "sh.tangled.ci.trigger#push" } },
        OWNER,
        400,
        "InvalidRequest",
        "unsupported trigger variant",
      ],
      [
        "short sha",
        manual("abc123"),
        OWNER,
        400,
        "InvalidRequest",
        "sha must be a 40-character commit hash",
      ],
      [
        "no such commit",
        manual("d".repeat(40)),
        OWNER,
        400,
        "InvalidRequest",
        "is not in the repo",
      ],
      ["no workflows", manual("e".repeat(40)), OWNER, 400, "InvalidRequest", "no workflows to run"],
      [
        "unknown workflow",
        { ...manual(sha), workflows: ["nope.yml"] },
        OWNER,
        400,
        "InvalidRequest",
        "no workflows to run",
      ],
      ["not JSON", "{nope", OWNER, 400, "InvalidRequest", "not JSON"],
    ];
    for (const [what, body, who, status, error, message] of cases) {
      const signer = who === OWNER ? owner : stranger;
      const answer = await xrpcPost(service, TRIGGER, body, signer.auth(TRIGGER));
      expect([what, answer.status, answer.body.error]).toEqual([what, status, error]);
      expect(answer.body.message).toContain(message);
    }
    expect(
      (
        await xrpcGet<{ total: number }>(service, "sh.tangled.ci.queryPipelines", {
          repo: REPO_DID,
        })
      ).body.total,
    ).toBe(0);
  });

  test("a collaborator the owner named may run pipelines", async () => {
    const { jetstream, knot, service, member } = await actionsNetwork(defer);
    const sha = freshSha();
    knot.commit(REPO_DID, sha, FILES);
    expect((await xrpcPost(service, TRIGGER, manual(sha), member.auth(TRIGGER))).status).toBe(400);
    jetstream.commit(OWNER, "sh.tangled.repo.collaborator", "create", newTid(), {
      $type: "sh.tangled.repo.collaborator",
      subject: MEMBER,
      repo: REPO_DID,
      createdAt: "2026-12-01T10:00:00Z",
    });
    const answer = await eventually(
      () => xrpcPost(service, TRIGGER, manual(sha), member.auth(TRIGGER)),
      (found) => found.status === 200,
      "collaborator allowed",
    );
    expect(answer.body.pipeline).toContain("sh.tangled.pipeline");
  });
});

describe("cancelPipeline", () => {
  async function running(defer: (step: () => unknown) => void) {
    const network = await actionsNetwork(defer);
    const { knot, service, owner } = network;
    const sha = freshSha();
    knot.commit(REPO_DID, sha, FILES);
    const answer = await xrpcPost(service, TRIGGER, manual(sha), owner.auth(TRIGGER));
    const id = answer.body.pipeline?.split("/").at(-1) ?? "";
    await eventually(
      () => pipelineOf(service, id),
      (p) => p.workflows.every((w) => w.status === "running"),
      "every workflow running",
    );
    return { ...network, id };
  }

  const statuses = (service: TestTack, id: string) =>
    service.tack.broker.store
      .after(0n, 10_000)
      .filter((row) => row.nsid === "sh.tangled.pipeline.status")
      .map(
        (row) =>
          JSON.parse(row.event) as {
            pipeline: string;
            workflow: string;
            status: string;
            error?: string;
          },
      )
      .filter((status) => status.pipeline.endsWith(id));

  test("one workflow: one cancelled status with the user's reason, and its CI build stopped", async () => {
    const { service, owner, ci, id } = await running(defer);
    const answer = await xrpcPost(
      service,
      CANCEL,
      { repo: REPO_DID, pipeline: id, workflows: ["lint.yml"] },
      owner.auth(CANCEL),
    );
    expect(answer.status).toBe(200);
    expect(answer.text).toBe("");
    const pipeline = await pipelineOf(service, id);
    expect(pipeline.workflows.map((w) => [w.name, w.status, w.error])).toEqual([
      ["build.yml", "running", undefined],
      ["lint.yml", "cancelled", "User canceled the workflow"],
      ["review.yml", "running", undefined],
    ]);
    expect(ci.cancelled).toEqual(["lint.yml"]);
    const cancelled = statuses(service, id).filter((s) => s.status === "cancelled");
    expect(cancelled).toEqual([
      expect.objectContaining({
        workflow: "lint.yml",
        error: "User canceled the workflow",
        exitCode: -1,
      }),
    ]);
  });

  test("the whole pipeline; a finished workflow gets no new status; a late success changes nothing", async () => {
    const { knot, service, owner, ci, id } = await running(defer);
    await ci.finish(knot.host, id, "build.yml");
    const answer = await xrpcPost(
      service,
      CANCEL,
      { repo: REPO_DID, pipeline: id },
      owner.auth(CANCEL),
    );
    expect(answer.status).toBe(200);
    // The CI reports success for a cancelled build afterwards: it stays cancelled.
    expect(await ci.finish(knot.host, id, "lint.yml")).toBe(false);
    const pipeline = await pipelineOf(service, id);
    expect(pipeline.workflows.map((w) => [w.name, w.status])).toEqual([
      ["build.yml", "success"],
      ["lint.yml", "cancelled"],
      ["review.yml", "cancelled"],
    ]);
    expect(ci.cancelled.sort()).toEqual(["lint.yml", "review.yml"]);
    // Cancelling again changes nothing.
    expect(
      (await xrpcPost(service, CANCEL, { repo: REPO_DID, pipeline: id }, owner.auth(CANCEL)))
        .status,
    ).toBe(200);
    expect(statuses(service, id).filter((s) => s.status === "cancelled")).toHaveLength(2);
    expect(
      statuses(service, id)
        .filter((s) => s.workflow === "build.yml")
        .map((s) => s.status),
    ).toEqual(["pending", "running", "success"]);
  });

  test("a CI that will not cancel: cancelled on Tangled all the same, logged and counted", async () => {
    const { service, owner, ci, id } = await running(defer);
    ci.refuseCancel = true;
    const answer = await xrpcPost(
      service,
      CANCEL,
      { repo: REPO_DID, pipeline: id, workflows: ["build.yml"] },
      owner.auth(CANCEL),
    );
    expect(answer.status).toBe(200);
    expect((await pipelineOf(service, id)).workflows[0]?.status).toBe("cancelled");
    expect(
      service.logs.some(
        (l) => l.msg === "cancel: the CI did not stop the build; it stays cancelled on Tangled",
      ),
    ).toBe(true);
    const metrics = await (await fetch(`${service.http}/metrics`)).text();
    expect(metrics).toContain('tack_ci_cancel_failures_total{provider="held"} 1');
  });

  test("refusals: a stranger, another repo's pipeline, an unknown pipeline or workflow", async () => {
    const network = await running(defer);
    const { service, owner, stranger, id } = network;
    const otherRepo = "did:plc:otherrepo00000000000000000";
    await announceRepo(network, { name: "other", repoDid: otherRepo });
    const cases: [string, unknown, string, number, string][] = [
      ["stranger", { repo: REPO_DID, pipeline: id }, "stranger", 400, "AccessControl"],
      ["another repo", { repo: otherRepo, pipeline: id }, "owner", 400, "AccessControl"],
      [
        "unknown pipeline",
        { repo: REPO_DID, pipeline: "3m6mxh2znw222" },
        "owner",
        404,
        "PipelineNotFound",
      ],
      ["bad id", { repo: REPO_DID, pipeline: "nope" }, "owner", 400, "InvalidRequest"],
      [
        "unknown workflow",
        { repo: REPO_DID, pipeline: id, workflows: ["x.yml"] },
        "owner",
        404,
        "WorkflowNotFound",
      ],
    ];
    for (const [what, body, who, status, error] of cases) {
      const signer = who === "owner" ? owner : stranger;
      const answer = await xrpcPost(service, CANCEL, body, signer.auth(CANCEL));
      expect([what, answer.status, answer.body.error]).toEqual([what, status, error]);
    }
    expect((await pipelineOf(service, id)).workflows.every((w) => w.status === "running")).toBe(
      true,
    );
  });
});
