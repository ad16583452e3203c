/**
 * Repo secrets: sh.tangled.repo.addSecret / listSecrets / removeSecret behind service auth and
 * settings rights, sealed at rest (never in clear in the database, the logs, /events or
 * /metrics), and delivered to a running build once, by one-time token, never through a CI.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { actionsNetwork, REPO_DID, xrpcPost } from "../helpers/actions-network.ts";
import { announceRepo } from "../helpers/ci-network.ts";
import { cleanupAfterEach } from "../helpers/cleanup.ts";
import { compressedClock, fastClock } from "../helpers/clock.ts";
import { FakeBuildkite } from "../helpers/fake-buildkite.ts";
import { assertLexiconOutput } from "../helpers/lexicons.ts";
import type { TestTack } from "../helpers/tack.ts";
import { eventually, until } from "../helpers/wait.ts";
import { freshSha, newTid, OWNER } from "../helpers/wire.ts";

setDefaultTimeout(30_000);
const defer = cleanupAfterEach();

const ADD = "sh.tangled.repo.addSecret";
const LIST = "sh.tangled.repo.listSecrets";
const REMOVE = "sh.tangled.repo.removeSecret";
const VALUE = "s3cr3t-'quoted' $HOME\nsecond line";

/** The at-uri of the REPO_DID repo's record, as the appview names it to the secrets methods. */
function repoUri(service: TestTack): string {
  const repo = service.tack.membership.repoByDid(REPO_DID);
  return `at://${repo?.did}/sh.tangled.repo/${repo?.rkey}`;
}

async function list(service: TestTack, uri: string, authorization: string) {
  const url = new URL(`${service.http}/xrpc/${LIST}`);
  url.searchParams.set("repo", uri);
  const response = await fetch(url, { headers: { authorization } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("secrets methods", () => {
  test("add, list and remove; keys and who added them are listed, values never", async () => {
    const { service, owner } = await actionsNetwork(defer);
    const uri = repoUri(service);
    for (const key of ["DEPLOY_TOKEN", "_ALSO"]) {
      const added = await xrpcPost(service, ADD, { repo: uri, key, value: VALUE }, owner.auth(ADD));
      expect([added.status, added.text]).toEqual([200, ""]);
    }
    const listed = await list(service, uri, owner.auth(LIST));
    expect(listed.status).toBe(200);
    assertLexiconOutput(LIST, listed.body);
    expect(listed.body.secrets).toEqual([
      { createdAt: expect.stringMatching(/Z$/), createdBy: OWNER, key: "DEPLOY_TOKEN", repo: uri },
      { createdAt: expect.stringMatching(/Z$/), createdBy: OWNER, key: "_ALSO", repo: uri },
    ]);
    expect(JSON.stringify(listed.body)).not.toContain("s3cr3t");
    const removed = await xrpcPost(
      service,
      REMOVE,
      { repo: uri, key: "_ALSO" },
      owner.auth(REMOVE),
    );
    expect(removed.status).toBe(200);
    const after = await list(service, uri, owner.auth(LIST));
    expect((after.body.secrets as { key: string }[]).map((s) => s.key)).toEqual(["DEPLOY_TOKEN"]);
  });

  test("refusals: a duplicate or malformed key, a missing one, a stranger, a repo that is not ours", async () => {
    // Upper case and punctuation: no TID, DID or URI in an answer can contain it by chance.
    const DUPLICATE_VALUE = "Second-Value!";
    const network = await actionsNetwork(defer);
    const { service, owner, stranger } = network;
    const uri = repoUri(service);
    await xrpcPost(service, ADD, { repo: uri, key: "TOKEN", value: "v" }, owner.auth(ADD));
    const legacyRkey = await announceRepo(network, { name: "legacy" });
    const cases: [string, string, Record<string, string>, number, string, string][] = [
      [
        "duplicate",
        ADD,
        { repo: uri, key: "TOKEN", value: DUPLICATE_VALUE },
        400,
        "InvalidRequest",
        "key already present",
      ],
      [
        "bad key",
        ADD,
        { repo: uri, key: "1-BAD", value: "v" },
        400,
        "InvalidRequest",
        "not a valid identifier",
      ],
      ["empty value", ADD, { repo: uri, key: "EMPTY", value: "" }, 400, "InvalidRequest", "value"],
      ["missing key", REMOVE, { repo: uri, key: "NOPE" }, 400, "InvalidRequest", "key not found"],
      [
        "not an at-uri",
        ADD,
        { repo: REPO_DID, key: "K", value: "v" },
        400,
        "InvalidRepo",
        "invalid",
      ],
      [
        "unknown repo",
        ADD,
        { repo: `at://${OWNER}/sh.tangled.repo/${newTid()}`, key: "K", value: "v" },
        400,
        "RepoNotFound",
        "",
      ],
      [
        "no repo DID",
        ADD,
        { repo: `at://${OWNER}/sh.tangled.repo/${legacyRkey}`, key: "K", value: "v" },
        400,
        "InvalidRepo",
        "has no repoDid",
      ],
    ];
    for (const [what, method, body, status, error, message] of cases) {
      const answer = await xrpcPost(service, method, body, owner.auth(method));
      expect([what, answer.status, answer.body.error]).toEqual([what, status, error]);
      expect(answer.body.message).toContain(message);
      expect(answer.text).not.toContain(DUPLICATE_VALUE);
    }
    const refused = await xrpcPost(
      service,
      ADD,
      { repo: uri, key: "K", value: "v" },
      stranger.auth(ADD),
    );
    expect([refused.status, refused.body.error]).toEqual([401, "AccessControl"]);
    expect((await list(service, uri, stranger.auth(LIST))).status).toBe(401);
    const wrongMethod = await xrpcPost(
      service,
      ADD,
      { repo: uri, key: "K", value: "v" },
      owner.auth(REMOVE),
    );
    expect([wrongMethod.status, wrongMethod.body.error]).toEqual([403, "Auth"]);
  });

  test("a value never rests or travels in clear: database, logs, /events, /metrics", async () => {
    const { service, owner } = await actionsNetwork(defer);
    const uri = repoUri(service);
    const value = `needle-${crypto.randomUUID()}`;
    await xrpcPost(service, ADD, { repo: uri, key: "NEEDLE", value }, owner.auth(ADD));
    service.tack.database.sqlite.run("PRAGMA wal_checkpoint(FULL)");
    for (const file of readdirSync(service.dir).filter((name) => name.startsWith("tack.db"))) {
      expect([file, readFileSync(join(service.dir, file)).includes(value)]).toEqual([file, false]);
    }
    const keyFile = join(service.dir, "tack.db.secrets-key");
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(JSON.stringify(service.logs)).not.toContain(value);
    const frames = service.tack.broker.store
      .after(0n, 10_000)
      .map((row) => row.event)
      .join("\n");
    expect(frames).not.toContain(value);
    expect(await (await fetch(`${service.http}/metrics`)).text()).not.toContain(value);
    // It is there all the same, for a build that asks with a token.
    expect(service.tack.secrets.valuesFor(REPO_DID)).toEqual([{ key: "NEEDLE", value }]);
  });
});

describe("secrets for a build", () => {
  async function runningWorkflow(clock = compressedClock()) {
    const network = await actionsNetwork(defer, "ES256", { clock });
    const { knot, service, owner } = network;
    const uri = repoUri(service);
    await xrpcPost(service, ADD, { repo: uri, key: "DEPLOY_TOKEN", value: VALUE }, owner.auth(ADD));
    await xrpcPost(service, ADD, { repo: uri, key: "OTHER", value: "plain" }, owner.auth(ADD));
    const sha = freshSha();
    knot.commit(REPO_DID, sha, [
      { name: "a.yml", content: "engine: tack\ntack:\n  held: {}\n" },
      { name: "b.yml", content: "engine: tack\ntack:\n  held: {}\n" },
    ]);
    const trigger = await xrpcPost(
      service,
      "sh.tangled.ci.triggerPipeline",
      { repo: REPO_DID, trigger: { $type: "sh.tangled.ci.trigger#manual", sha } },
      owner.auth("sh.tangled.ci.triggerPipeline"),
    );
    const rkey = trigger.body.pipeline?.split("/").at(-1) ?? "";
    const find = (name: string) =>
      service.tack.workflows.get({ knot: knot.host, pipelineRkey: rkey, name });
    const workflow = (name: string) => {
      const found = find(name);
      if (!found) throw new Error(`no workflow ${name}`);
      return found;
    };
    await until(
      () => find("a.yml")?.status === "running" && find("b.yml")?.status === "running",
      "running",
    );
    return { ...network, clock, rkey, workflow };
  }

  const fetchSecrets = (service: TestTack, token: string, format = "") =>
    fetch(`${service.http}/secrets${format}`, { headers: { authorization: `Bearer ${token}` } });

  test("a token works once, as JSON or as shell lines that eval back to the values", async () => {
    const { service, workflow } = await runningWorkflow();
    const variables = await service.tack.secretsDelivery.variablesFor(workflow("a.yml"));
    expect(variables.TACK_SECRETS_URL).toBe("http://spindle.test/secrets");
    const token = variables.TACK_SECRETS_TOKEN ?? "";
    const first = await fetchSecrets(service, token);
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-control")).toBe("no-store");
    expect(await first.json()).toEqual({
      secrets: [
        { key: "DEPLOY_TOKEN", value: VALUE },
        { key: "OTHER", value: "plain" },
      ],
    });
    expect((await fetchSecrets(service, token)).status).toBe(401); // used up

    const envToken = (await service.tack.secretsDelivery.variablesFor(workflow("a.yml")))
      .TACK_SECRETS_TOKEN;
    const env = await (await fetchSecrets(service, envToken ?? "", "?format=env")).text();
    const shell = Bun.spawnSync(
      ["sh", "-c", 'eval "$(cat)"; printf "%s|%s" "$DEPLOY_TOKEN" "$OTHER"'],
      {
        stdin: new TextEncoder().encode(env),
      },
    );
    expect(shell.stdout.toString()).toBe(`${VALUE}|plain`);
    expect(JSON.stringify(service.logs)).not.toContain("s3cr3t");
  });

  test("a token fails once its workflow ended, after an hour, and for anything but a real token", async () => {
    const clock = compressedClock();
    const { knot, service, ci, rkey, workflow } = await runningWorkflow(clock);
    const forA = (await service.tack.secretsDelivery.variablesFor(workflow("a.yml")))
      .TACK_SECRETS_TOKEN;
    const forB = (await service.tack.secretsDelivery.variablesFor(workflow("b.yml")))
      .TACK_SECRETS_TOKEN;
    await ci.finish(knot.host, rkey, "a.yml");
    expect((await fetchSecrets(service, forA ?? "")).status).toBe(401); // its workflow ended
    expect((await fetchSecrets(service, forB ?? "")).status).toBe(200); // the other one still runs

    const late = (await service.tack.secretsDelivery.variablesFor(workflow("b.yml")))
      .TACK_SECRETS_TOKEN;
    await clock.sleep(60 * 60_000 + 1);
    expect((await fetchSecrets(service, late ?? "")).status).toBe(401); // expired
    for (const header of ["", "Bearer ", "Bearer nope", `Basic ${late}`]) {
      const response = await fetch(`${service.http}/secrets`, {
        headers: { authorization: header },
      });
      expect(response.status).toBe(401);
    }
  });

  test("a token only opens its own repo's secrets", async () => {
    const network = await runningWorkflow();
    const { knot, service, owner } = network;
    const otherDid = "did:plc:othersecrets0000000000000";
    const otherRkey = await announceRepo(network, { name: "other", repoDid: otherDid });
    await xrpcPost(
      service,
      ADD,
      { repo: `at://${OWNER}/sh.tangled.repo/${otherRkey}`, key: "OTHER_REPO", value: "x" },
      owner.auth(ADD),
    );
    const sha = freshSha();
    knot.commit(otherDid, sha, [{ name: "c.yml", content: "engine: tack\ntack:\n  held: {}\n" }]);
    const trigger = await xrpcPost(
      service,
      "sh.tangled.ci.triggerPipeline",
      { repo: otherDid, trigger: { $type: "sh.tangled.ci.trigger#manual", sha } },
      owner.auth("sh.tangled.ci.triggerPipeline"),
    );
    const rkey = trigger.body.pipeline?.split("/").at(-1) ?? "";
    const c = await eventually(
      async () =>
        service.tack.workflows.get({ knot: knot.host, pipelineRkey: rkey, name: "c.yml" }),
      (found) => found?.status === "running",
      "c.yml running",
    );
    if (!c) throw new Error("no workflow");
    const token = (await service.tack.secretsDelivery.variablesFor(c)).TACK_SECRETS_TOKEN ?? "";
    expect(await (await fetchSecrets(service, token)).json()).toEqual({
      secrets: [{ key: "OTHER_REPO", value: "x" }],
    });
  });
});

describe("secrets through a real CI's API", () => {
  test("a Buildkite build gets the URL and a one-time token, never a value, and the token opens them", async () => {
    const buildkite = FakeBuildkite.start("bk-token-0123456789");
    defer(() => buildkite.stop());
    const clock = fastClock();
    const { knot, service, owner } = await actionsNetwork(
      defer,
      "ES256",
      { clock },
      {
        providers: {
          fake: {},
          buildkite: {
            token: "bk-token-0123456789",
            org: "acme",
            webhookSecret: "whsec-0123456789abcdef",
            webhookMode: "signature",
            apiUrl: buildkite.url,
          },
        },
      },
    );
    await xrpcPost(
      service,
      ADD,
      { repo: repoUri(service), key: "DEPLOY_TOKEN", value: VALUE },
      owner.auth(ADD),
    );
    const sha = freshSha();
    knot.commit(REPO_DID, sha, [
      { name: "deploy.yml", content: "engine: tack\ntack:\n  buildkite: { pipeline: deploy }\n" },
    ]);
    const trigger = await xrpcPost(
      service,
      "sh.tangled.ci.triggerPipeline",
      { repo: REPO_DID, trigger: { $type: "sh.tangled.ci.trigger#manual", sha } },
      owner.auth("sh.tangled.ci.triggerPipeline"),
    );
    expect(trigger.status).toBe(200);
    await until(() => buildkite.builds.size === 1, "build created on Buildkite");
    const [build] = [...buildkite.builds.values()];
    expect(build?.env.TACK_SECRETS_URL).toBe("http://spindle.test/secrets");
    const token = build?.env.TACK_SECRETS_TOKEN ?? "";
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Nothing Buildkite holds or shows contains the value.
    expect(JSON.stringify(build)).not.toContain("s3cr3t");
    // The build, running, fetches it once.
    const fetched = await fetch(`${service.http}/secrets`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(await fetched.json()).toEqual({ secrets: [{ key: "DEPLOY_TOKEN", value: VALUE }] });
  });
});

describe("the secrets key", () => {
  test("TACK_SECRETS_KEY seals secrets instead of a key file", async () => {
    const key = Buffer.alloc(32, 7).toString("base64");
    const { service, owner } = await actionsNetwork(
      defer,
      "ES256",
      {},
      { secretsKey: Buffer.from(key, "base64") },
    );
    await xrpcPost(service, ADD, { repo: repoUri(service), key: "K", value: "v" }, owner.auth(ADD));
    expect(readdirSync(service.dir).some((name) => name.endsWith("secrets-key"))).toBe(false);
    expect(service.tack.secrets.valuesFor(REPO_DID)).toEqual([{ key: "K", value: "v" }]);
  });
});
