/**
 * sh.tangled.ci.describeWorkflowDefinition end to end: the workflow files come from the local
 * knot's XRPC (tree + blob), the fingerprint is checked against one computed here with
 * node:crypto from the rule alone, and the answer against the lexicon.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash } from "node:crypto";
import { PublicHosts } from "../../src/net/public-hosts.ts";
import { announceRepo, ciNetwork, REPO_DID, xrpcGet } from "../helpers/ci-network.ts";
import { cleanupAfterEach } from "../helpers/cleanup.ts";
import { FakeAtproto } from "../helpers/fake-atproto.ts";
import { FakeKnot, type KnotFile } from "../helpers/fake-knot.ts";
import { assertLexiconOutput, assertLexiconParams } from "../helpers/lexicons.ts";
import { MEMBER, STRANGER } from "../helpers/wire.ts";

setDefaultTimeout(30_000);
const defer = cleanupAfterEach();

const METHOD = "sh.tangled.ci.describeWorkflowDefinition";
const SHA = "a".repeat(40);

interface Definition {
  derived: boolean;
  hash?: string;
  workflows?: string[];
}

/** name ‖ 0 ‖ uint64le(length) ‖ content for each file, sorted by name; sha256, hex. */
function expectedHash(files: { name: string; content: string }[]): string {
  const hash = createHash("sha256");
  for (const file of [...files].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const content = Buffer.from(file.content, "utf8");
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(content.length));
    hash.update(Buffer.concat([Buffer.from(file.name, "utf8"), Buffer.from([0]), length, content]));
  }
  return `sha256:${hash.digest("hex")}`;
}

describe("describeWorkflowDefinition", () => {
  test("fingerprints the files directly under .tangled/workflows at the commit", async () => {
    const { knot, service } = await ciNetwork(defer);
    const files: KnotFile[] = [
      { name: "test.yml", content: "engine: tack\ntack:\n  fake: {}\n" },
      { name: "build.yml", content: "engine: tack\ntack:\n  fake: { steps: 3 }\n" },
      { name: "run.sh", content: "#!/bin/sh\n", mode: "0100755" },
      { name: "linked.yml", content: "test.yml", mode: "0120000" },
      { name: "nested", content: "", mode: "0040000" },
      { name: "vendored", content: "", mode: "0160000" },
    ];
    knot.commit(REPO_DID, SHA, files);
    const params = { repo: REPO_DID, sha: SHA };
    assertLexiconParams(METHOD, params);
    const answer = await xrpcGet<Definition>(service, METHOD, params);
    expect(answer.status).toBe(200);
    assertLexiconOutput(METHOD, answer.body);
    const counted = files.filter((f) => !["nested", "vendored"].includes(f.name));
    expect(answer.body).toEqual({
      derived: true,
      hash: expectedHash(counted),
      workflows: ["build.yml", "linked.yml", "run.sh", "test.yml"],
    });
    // The knot was asked for the repo by its DID, at the commit.
    const tree = knot.xrpcRequests.find((url) => url.pathname.endsWith("sh.tangled.repo.tree"));
    expect(tree?.searchParams.get("repo")).toBe(REPO_DID);
    expect(tree?.searchParams.get("ref")).toBe(SHA);
    expect(tree?.searchParams.get("path")).toBe(".tangled/workflows");

    // A commit's files never change: asked again, the knot is not.
    const asked = knot.xrpcRequests.length;
    const again = await xrpcGet<Definition>(service, METHOD, params);
    expect(again.body).toEqual(answer.body);
    expect(knot.xrpcRequests.length).toBe(asked);
  });

  test("older knots' file modes are understood too", async () => {
    const { knot, service } = await ciNetwork(defer);
    knot.legacyModes = true;
    const files = [
      { name: "a.yml", content: "engine: tack\n" },
      { name: "dir", content: "", mode: "0040000" },
    ];
    knot.commit(REPO_DID, SHA, files);
    const answer = await xrpcGet<Definition>(service, METHOD, { repo: REPO_DID, sha: SHA });
    expect(answer.body.workflows).toEqual(["a.yml"]);
    expect(answer.body.hash).toBe(expectedHash([{ name: "a.yml", content: "engine: tack\n" }]));
  });

  test("a commit without .tangled/workflows hashes nothing and lists no workflows", async () => {
    const { knot, service } = await ciNetwork(defer);
    knot.commit(REPO_DID, SHA, undefined);
    const answer = await xrpcGet<Definition>(service, METHOD, { repo: REPO_DID, sha: SHA });
    expect(answer.status).toBe(200);
    assertLexiconOutput(METHOD, answer.body);
    expect(answer.text).toBe(
      '{"derived":true,"hash":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}\n',
    );
  });

  test("bad parameters and repos this spindle does not serve are refused before any knot is asked", async () => {
    const network = await ciNetwork(defer);
    const { knot, service } = network;
    // A stranger's repo names this spindle, but its owner is no member: not served.
    const strangerRepo = "did:plc:strangerrepo000000000000";
    await announceRepo(network, { did: STRANGER, name: "evil", repoDid: strangerRepo });
    expect(service.tack.membership.repoByDid(strangerRepo)).toBeDefined();
    const cases: [Record<string, string>, number, string, string][] = [
      [{ sha: SHA }, 400, "InvalidRequest", "repo:"],
      [{ repo: "nope", sha: SHA }, 400, "InvalidRequest", "repo:"],
      [{ repo: REPO_DID }, 400, "InvalidRequest", "sha:"],
      [{ repo: REPO_DID, sha: "abc" }, 400, "InvalidRequest", "sha:"],
      [{ repo: REPO_DID, sha: SHA, sourceRepo: "fork" }, 400, "InvalidRequest", "sourceRepo:"],
      [{ repo: MEMBER, sha: SHA }, 400, "RepoNotFound", "repo did:plc:member"],
      [{ repo: strangerRepo, sha: SHA }, 400, "RepoNotFound", `repo ${strangerRepo}`],
      [
        { repo: REPO_DID, sha: SHA, sourceRepo: "did:plc:fork0000000000000000000" },
        502,
        "UpstreamFailure",
        "sourceRepo: cannot resolve did:plc:fork",
      ],
    ];
    for (const [params, status, error, message] of cases) {
      const answer = await xrpcGet(service, METHOD, params);
      expect([answer.status, answer.body.error]).toEqual([status, error]);
      expect(answer.body.message).toStartWith(message);
    }
    expect(knot.xrpcRequests).toEqual([]);
  });

  test("a fork's workflows come from the knot its DID document names", async () => {
    const atproto = FakeAtproto.start();
    defer(() => atproto.stop());
    const forkKnot = FakeKnot.start();
    defer(() => forkKnot.stop());
    const fork = "did:plc:fork0000000000000000000";
    atproto.addIdentity(fork, { knot: forkKnot.host });
    const { knot, service } = await ciNetwork(defer, {}, { plcUrl: atproto.url });
    knot.commit(REPO_DID, SHA, [{ name: "a.yml", content: "engine: tack\n" }]);
    forkKnot.commit(fork, SHA, [{ name: "changed.yml", content: "engine: other\n" }]);
    const answer = await xrpcGet<Definition>(service, METHOD, {
      repo: REPO_DID,
      sha: SHA,
      sourceRepo: fork,
    });
    expect(answer.body.workflows).toEqual(["changed.yml"]);
    expect(knot.xrpcRequests).toEqual([]);
    const unknown = await xrpcGet(service, METHOD, {
      repo: REPO_DID,
      sha: SHA,
      sourceRepo: "did:plc:unknown00000000000000000",
    });
    expect([unknown.status, unknown.body.error]).toEqual([400, "InvalidRequest"]);
  });

  test("a fork whose DID document names a private address is refused before any request goes there", async () => {
    const atproto = FakeAtproto.start();
    defer(() => atproto.stop());
    const forkKnot = FakeKnot.start();
    defer(() => forkKnot.stop());
    const fork = "did:plc:fork0000000000000000000";
    atproto.addIdentity(fork, { knot: forkKnot.host });
    const elsewhere = "did:plc:elsewhere0000000000000000";
    atproto.addIdentity(elsewhere, { knot: "knot.internal.example:443" });
    // As outside TACK_DEV: forkKnot listens on 127.0.0.1, and the other name resolves inside.
    const publicHosts = new PublicHosts({
      dev: false,
      lookup: async () => [{ address: "10.0.0.7", family: 4 }],
    });
    const { service } = await ciNetwork(defer, { publicHosts }, { plcUrl: atproto.url });
    const loopback = await xrpcGet(service, METHOD, { repo: REPO_DID, sha: SHA, sourceRepo: fork });
    expect([loopback.status, loopback.body.error]).toEqual([400, "InvalidRequest"]);
    expect(String(loopback.body.message)).toContain(
      `names knot ${forkKnot.host}, which this spindle does not call: 127.0.0.1 is not a public address`,
    );
    const named = await xrpcGet(service, METHOD, {
      repo: REPO_DID,
      sha: SHA,
      sourceRepo: elsewhere,
    });
    expect([named.status, named.body.error]).toEqual([400, "InvalidRequest"]);
    expect(String(named.body.message)).toContain(
      "knot.internal.example resolves to 10.0.0.7, not a public address",
    );
    expect(forkKnot.xrpcRequests).toEqual([]);
  });

  test("a knot that cannot answer is 502 with the reason; once it recovers the answer comes", async () => {
    const { knot, service } = await ciNetwork(defer);
    knot.commit(REPO_DID, SHA, [{ name: "a.yml", content: "engine: tack\n" }]);
    knot.failXrpc(1, 503);
    const failed = await xrpcGet(service, METHOD, { repo: REPO_DID, sha: SHA });
    expect(failed.status).toBe(502);
    expect(failed.body.error).toBe("UpstreamFailure");
    expect(failed.body.message).toContain("sh.tangled.repo.tree");
    expect(failed.body.message).toContain("503");
    // A failure is not cached.
    const recovered = await xrpcGet<Definition>(service, METHOD, { repo: REPO_DID, sha: SHA });
    expect(recovered.status).toBe(200);
    expect(recovered.body.workflows).toEqual(["a.yml"]);
  });

  test("a commit the knot does not have is 400 InvalidRequest", async () => {
    const { knot, service } = await ciNetwork(defer);
    knot.commit(REPO_DID, SHA, []);
    const answer = await xrpcGet(service, METHOD, { repo: REPO_DID, sha: "b".repeat(40) });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({
      error: "InvalidRequest",
      message: `commit ${"b".repeat(40)} is not in the repo`,
    });
  });
});
