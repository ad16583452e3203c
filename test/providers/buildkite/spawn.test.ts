/**
 * Spawn: the create-build request Buildkite receives, the stored reference, and
 * what a refusal (422), a rate limit (429) and an outage (5xx) do to the workflow.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { OWNER } from "../../helpers/wire.ts";
import {
  KNOT,
  ORG,
  pullRequestContext,
  pushContext,
  recordingClock,
  SHA,
  startHarness,
  TOKEN,
} from "./harness.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

const CREATE = /^\/v2\/organizations\/[^/]+\/pipelines\/[^/]+\/builds$/;

describe("buildkite spawn", () => {
  test("a push creates one build with commit, branch, message, env and meta_data", async () => {
    await using h = await startHarness();
    const { id, outcome } = await h.dispatch("ci.yml", {
      pipeline: "app-ci",
      env: { TACK_BRANCH: "overridden", DEPLOY: false, RETRIES: 3 },
    });
    expect(outcome).toBe("spawned");
    const [call, ...more] = h.fake.callsTo("POST", CREATE);
    expect(more).toHaveLength(0);
    expect(call?.path).toBe(`/v2/organizations/${ORG}/pipelines/app-ci/builds`);
    expect(call?.headers.get("authorization")).toBe(`Bearer ${TOKEN}`);
    expect(call?.headers.get("content-type")).toBe("application/json");
    expect(call?.body).toEqual({
      commit: SHA,
      branch: "main",
      message: `Tangled ci.yml · push to main @ 3f4c1e2 · ${OWNER}/app`,
      env: {
        TACK_KNOT: KNOT,
        TACK_PIPELINE_RKEY: id.pipelineRkey,
        TACK_WORKFLOW: "ci.yml",
        TACK_COMMIT: SHA,
        // The workflow's own env wins over tack's.
        TACK_BRANCH: "overridden",
        TACK_EVENT: "push",
        TACK_REF: "refs/heads/main",
        // The test service runs with TACK_DEV=true: knots are cloned over http://.
        TACK_CLONE_URL: `http://${KNOT}/${OWNER}/app`,
        TACK_REPO_DID: OWNER,
        TACK_REPO_NAME: "app",
        DEPLOY: "false",
        RETRIES: "3",
      },
      meta_data: {
        "tack:knot": KNOT,
        "tack:pipeline_rkey": id.pipelineRkey,
        "tack:workflow": "ci.yml",
      },
    });

    // The reference is durable by the time spawn resolved.
    const build = h.fake.onlyBuild();
    expect(h.buildRows()).toEqual([
      expect.objectContaining({
        build_uuid: build.id,
        knot: KNOT,
        pipeline_rkey: id.pipelineRkey,
        workflow: "ci.yml",
        org: ORG,
        pipeline: "app-ci",
        number: 1n,
        web_url: `https://buildkite.com/${ORG}/app-ci/builds/1`,
        state: "scheduled",
      }),
    ]);
    expect(h.statuses(id)).toEqual([{ status: "pending" }]);
    expect(h.workflow(id)?.spawned).toBe(true);
  });

  test("a pull request builds the source commit on the source branch, with the base branch", async () => {
    await using h = await startHarness();
    await h.dispatch("pr.yml", { pipeline: "app-ci" }, pullRequestContext());
    const body = h.fake.callsTo("POST", CREATE)[0]?.body;
    expect(body).toMatchObject({
      commit: SHA,
      branch: "feature/login",
      pull_request_base_branch: "main",
      message: `Tangled pr.yml · pull request feature/login → main @ 3f4c1e2 · ${OWNER}/app`,
      env: { TACK_EVENT: "pull_request", TACK_BRANCH: "feature/login", TACK_COMMIT: SHA },
    });
  });

  test("a pull request from a fork names the fork as the head repository, with the PR's fields", async () => {
    await using h = await startHarness();
    const fork = "did:plc:fork00000000000000000000";
    const context = {
      ...pullRequestContext(),
      sourceRepo: fork,
      pullRequest: {
        ...pullRequestContext().pullRequest,
        pull: "at://did:plc:x/sh.tangled.repo.pull/3m6a",
      },
    };
    await h.dispatch("pr.yml", { pipeline: "app-ci" }, context);
    expect(h.fake.callsTo("POST", CREATE)[0]?.body).toMatchObject({
      pull_request_repository: `http://${KNOT}/${fork}`,
      env: {
        TACK_CLONE_URL: `http://${KNOT}/${fork}`,
        TACK_SOURCE_REPO_DID: fork,
        TACK_PR_SOURCE_BRANCH: "feature/login",
        TACK_PR_TARGET_BRANCH: "main",
        TACK_PR_ACTION: "create",
        TACK_PR_URI: "at://did:plc:x/sh.tangled.repo.pull/3m6a",
      },
    });
  });

  test("a manual run builds its sha on its ref; its inputs reach env and meta_data", async () => {
    await using h = await startHarness();
    const manual = {
      kind: "manual",
      repo: {
        did: OWNER,
        knot: KNOT,
        repo: "app",
        repoDid: "did:plc:repo000000000000000000000",
        defaultBranch: "main",
      },
      manual: {
        sha: SHA,
        ref: "release",
        inputs: [
          { key: "deploy-target", value: "staging" },
          { key: "tack:workflow", value: "spoofed" },
        ],
      },
    };
    const { id } = await h.dispatch("manual.yml", { pipeline: "app-ci" }, manual);
    const body = h.fake.callsTo("POST", CREATE)[0]?.body;
    expect(body).toMatchObject({
      commit: SHA,
      branch: "release",
      env: {
        TACK_EVENT: "manual",
        TACK_REF: "refs/heads/release",
        TACK_CLONE_URL: `http://${KNOT}/did:plc:repo000000000000000000000`,
        TACK_INPUT_DEPLOY_TARGET: "staging",
        TACK_INPUT_TACK_WORKFLOW: "spoofed",
      },
      // An input cannot overwrite tack's correlation key.
      meta_data: {
        "deploy-target": "staging",
        "tack:workflow": "manual.yml",
        "tack:pipeline_rkey": id.pipelineRkey,
      },
    });
    // Without sha and ref: the default branch's head.
    await h.dispatch("head.yml", { pipeline: "app-ci" }, { ...manual, manual: {} });
    expect(h.fake.callsTo("POST", CREATE)[1]?.body).toMatchObject({
      commit: "HEAD",
      branch: "main",
    });
  });

  test("the core's build variables reach the build env, win over the workflow's, and are never logged", async () => {
    await using h = await startHarness();
    const id = { knot: KNOT, pipelineRkey: "3m6vars222222", name: "vars.yml" };
    const workflows = h.service.tack.workflows;
    await workflows.create(
      id,
      {
        provider: "buildkite",
        options: { pipeline: "app-ci", env: { TACK_SECRETS_TOKEN: "from-the-yaml" } },
        context: pushContext(),
      },
      "pending",
    );
    const stored = workflows.get(id);
    const provider = h.service.tack.providers.get("buildkite");
    if (!stored || !provider) throw new Error("no workflow or provider");
    const token = "one-time-9f8e7d6c5b4a39281706";
    await provider.spawn(stored, {
      TACK_SECRETS_URL: "https://spindle.test/xrpc/secrets",
      TACK_SECRETS_TOKEN: token,
    });
    expect(h.fake.callsTo("POST", CREATE)[0]?.body).toMatchObject({
      env: { TACK_SECRETS_URL: "https://spindle.test/xrpc/secrets", TACK_SECRETS_TOKEN: token },
    });
    expect(JSON.stringify(h.service.logs)).not.toContain(token);
  });

  test("a tag push builds the tag name; org, message, branch and commit can be overridden", async () => {
    await using h = await startHarness();
    await h.dispatch("tag.yml", { pipeline: "release" }, pushContext("refs/tags/v1.2.0"));
    await h.dispatch("other.yml", {
      pipeline: "deploy",
      org: "other-org",
      message: "deploy it",
      branch: "production",
      commit: "HEAD",
    });
    const [tag, other] = h.fake.callsTo("POST", CREATE);
    expect(tag?.body).toMatchObject({ branch: "v1.2.0", env: { TACK_BRANCH: "v1.2.0" } });
    expect(other?.path).toBe("/v2/organizations/other-org/pipelines/deploy/builds");
    expect(other?.body).toMatchObject({
      message: "deploy it",
      branch: "production",
      commit: "HEAD",
    });
    const otherRow = h.buildRows().find((row) => row.workflow === "other.yml");
    expect(otherRow).toMatchObject({ org: "other-org", pipeline: "deploy" });
  });

  test("bad options fail the workflow before Buildkite is called, naming the key", async () => {
    await using h = await startHarness();
    const missing = await h.dispatch("a.yml", {});
    const unknown = await h.dispatch("b.yml", { pipeline: "app-ci", queue: "fast" });
    const badEnv = await h.dispatch("c.yml", { pipeline: "app-ci", env: { "1X": "y" } });
    const badSlug = await h.dispatch("d.yml", { pipeline: "App CI" });
    expect([missing, unknown, badEnv, badSlug].map((r) => r.outcome)).toEqual([
      "rejected",
      "rejected",
      "rejected",
      "rejected",
    ]);
    expect(h.statuses(missing.id)[0]?.error).toStartWith("tack.buildkite.pipeline is required");
    expect(h.statuses(unknown.id)[0]?.error).toStartWith(
      "tack.buildkite.queue is not a known option",
    );
    expect(h.statuses(badEnv.id)[0]?.error).toBe(
      "tack.buildkite.env.1X is not a valid environment variable name",
    );
    expect(h.statuses(badSlug.id)[0]?.error).toStartWith("tack.buildkite.pipeline must be");
    expect(h.fake.calls).toHaveLength(0);
  });

  test("a 422 fails the workflow with Buildkite's message, and nothing is retried", async () => {
    await using h = await startHarness();
    h.fake.answerNext("POST", CREATE, {
      status: 422,
      body: { message: "Branches have been disabled for this pipeline" },
    });
    const { id, outcome } = await h.dispatch("ci.yml");
    expect(outcome).toBe("spawn-failed");
    expect(h.statuses(id)).toEqual([
      { status: "pending" },
      {
        status: "failed",
        error:
          'Buildkite API refused it (HTTP 422) (POST /v2/organizations/acme/pipelines/app-ci/builds): "Branches have been disabled for this pipeline"',
        exitCode: -1,
      },
    ]);
    expect(h.fake.callsTo("POST", CREATE)).toHaveLength(1);
    expect(h.buildRows()).toHaveLength(0);
  });

  test("a 422 with field errors names them", async () => {
    await using h = await startHarness();
    h.fake.answerNext("POST", CREATE, {
      status: 422,
      body: {
        message: "Validation Failed",
        errors: [{ field: "commit", code: "invalid", message: "is not a valid commit" }],
      },
    });
    const { id } = await h.dispatch("ci.yml");
    expect(h.statuses(id).at(-1)?.error).toEndWith(
      '"Validation Failed: commit is not a valid commit"',
    );
  });

  test("a 429 is retried after the RateLimit-Reset it announced", async () => {
    const { clock, sleeps } = recordingClock();
    await using h = await startHarness({ clock });
    h.fake.answerNext("POST", CREATE, {
      status: 429,
      body: {
        message: "You have exceeded your API rate limit",
        scope: "rest",
        limit: 200,
        current: 201,
        reset: 3,
      },
      headers: { "ratelimit-remaining": "0", "ratelimit-reset": "3" },
    });
    const { id, outcome } = await h.dispatch("ci.yml");
    expect(outcome).toBe("spawned");
    expect(h.fake.callsTo("POST", CREATE)).toHaveLength(2);
    expect(sleeps).toContain(3_000);
    expect(h.buildRows()).toHaveLength(1);
    expect(h.statuses(id)).toEqual([{ status: "pending" }]);
  });

  test("rate limits that never lift fail the workflow after bounded attempts", async () => {
    await using h = await startHarness();
    h.fake.answerNext(
      "POST",
      CREATE,
      { status: 429, body: { message: "rate limited" }, headers: { "ratelimit-reset": "5" } },
      10,
    );
    const { id, outcome } = await h.dispatch("ci.yml");
    expect(outcome).toBe("spawn-failed");
    expect(h.fake.callsTo("POST", CREATE)).toHaveLength(4);
    expect(h.statuses(id).at(-1)?.error).toStartWith("Buildkite API rate limit reached");
  });

  test("a persistent 5xx fails the workflow after bounded attempts, never creating twice", async () => {
    await using h = await startHarness();
    h.fake.answerNext("POST", CREATE, { status: 502, body: { message: "Bad Gateway" } }, 10);
    const { id, outcome } = await h.dispatch("ci.yml");
    expect(outcome).toBe("spawn-failed");
    expect(h.fake.callsTo("POST", CREATE)).toHaveLength(4);
    // Before each retry, tack looked for a build it might have created after all.
    const order = h.fake.calls
      .filter((call) => CREATE.test(call.path))
      .map((call) => call.method)
      .join(" ");
    expect(order).toMatch(/^(GET )*POST (GET )+POST (GET )+POST (GET )+POST( GET)*$/);
    const [lookup] = h.fake.callsTo("GET", CREATE);
    expect(lookup?.query.get("meta_data[tack:workflow]")).toBe("ci.yml");
    expect(h.statuses(id).at(-1)).toMatchObject({ status: "failed", exitCode: -1 });
    expect(h.statuses(id).at(-1)?.error).toContain("HTTP 502");
  });

  test("a 5xx after Buildkite created the build adopts that build instead of a second one", async () => {
    await using h = await startHarness();
    h.fake.answerNext("POST", CREATE, {
      status: 504,
      body: { message: "Gateway Timeout" },
      thenPerform: true,
    });
    const { outcome } = await h.dispatch("ci.yml");
    expect(outcome).toBe("spawned");
    expect(h.fake.callsTo("POST", CREATE)).toHaveLength(1);
    const build = h.fake.onlyBuild();
    expect(h.buildRows()).toEqual([expect.objectContaining({ build_uuid: build.id })]);
  });
});
