/** `tack.github` options: every problem is one sentence naming the option; inputs for the runner. */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { StoredWorkflow } from "../../../src/pipeline/workflows.ts";
import { checkGithubOptions } from "../../../src/providers/github/options.ts";
import { dispatchInputs } from "../../../src/providers/github/request.ts";
import { KNOT, REPO_DID, SHA } from "./harness.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

describe("tack.github options", () => {
  test("accepts the documented forms", () => {
    for (const options of [
      { repo: "acme/tangled-runner", workflow: "tangled.yml" },
      { repo: "acme/tangled-runner", workflow: 4242 },
      { repo: "Acme-Org/runner.repo_1", workflow: "ci.yaml", ref: "release/v2" },
      { repo: "acme/r", workflow: "t.yml", inputs: { os: "linux", shards: 4, debug: false } },
    ]) {
      expect(checkGithubOptions(options)).toBeUndefined();
    }
  });

  test.each([
    [
      undefined,
      "tack.github: must be a mapping, e.g. { repo: acme/tangled-runner, workflow: tangled.yml }",
    ],
    [
      "acme/r",
      "tack.github: must be a mapping, e.g. { repo: acme/tangled-runner, workflow: tangled.yml }",
    ],
    [
      { workflow: "t.yml" },
      'tack.github.repo: required, the runner repository as "owner/name", e.g. { repo: acme/tangled-runner, workflow: tangled.yml }',
    ],
    [
      { repo: "tangled-runner", workflow: "t.yml" },
      'tack.github.repo: must be "owner/name", got "tangled-runner"',
    ],
    [{ repo: "a/b/c", workflow: "t.yml" }, 'tack.github.repo: must be "owner/name", got "a/b/c"'],
    [
      { repo: "a/b" },
      "tack.github.workflow: required, the runner workflow's file name (e.g. tangled.yml) or numeric id",
    ],
    [
      { repo: "a/b", workflow: ".github/workflows/t.yml" },
      'tack.github.workflow: must be a file name in .github/workflows (e.g. tangled.yml) or a numeric id, got ".github/workflows/t.yml"',
    ],
    [
      { repo: "a/b", workflow: 1.5 },
      "tack.github.workflow: must be a file name in .github/workflows (e.g. tangled.yml) or a numeric id, got 1.5",
    ],
    [
      { repo: "a/b", workflow: "t.yml", ref: "" },
      'tack.github.ref: must be a branch or tag name of the runner repository, got ""',
    ],
    [
      { repo: "a/b", workflow: "t.yml", branch: "main" },
      "tack.github.branch: unknown option (known: repo, workflow, ref, inputs)",
    ],
    [
      { repo: "a/b", workflow: "t.yml", inputs: ["x"] },
      "tack.github.inputs: must be a mapping of input name to value",
    ],
    [
      { repo: "a/b", workflow: "t.yml", inputs: { "1x": "y" } },
      'tack.github.inputs.1x: not a valid input name (a letter or "_" first, then letters, digits, "-" or "_")',
    ],
    [
      { repo: "a/b", workflow: "t.yml", inputs: { commit: "abc" } },
      "tack.github.inputs.commit: reserved, tack sets it (correlation_id, clone_url, commit, tangled)",
    ],
    [
      { repo: "a/b", workflow: "t.yml", inputs: { os: ["linux"] } },
      "tack.github.inputs.os: must be a string, number or boolean",
    ],
    [
      {
        repo: "a/b",
        workflow: "t.yml",
        inputs: { a: "1", b: "1", c: "1", d: "1", e: "1", f: "1", g: "1" },
      },
      "tack.github.inputs: at most 6 (GitHub takes 10 inputs per dispatch and tack sends 4), got 7",
    ],
  ])("%j → %s", (options, message) => {
    expect(checkGithubOptions(options)).toBe(message);
  });
});

describe("dispatch inputs", () => {
  const id = { knot: KNOT, pipelineRkey: "3m6mxh2znw222", name: "ci.yml" };
  const repo = { defaultBranch: "trunk", did: REPO_DID, knot: KNOT, repo: "app" };
  const correlationId = "tack-00000000-0000-4000-8000-000000000000";
  const workflow = (context: unknown): StoredWorkflow => ({
    id,
    provider: "github",
    options: {},
    context: JSON.parse(JSON.stringify(context)),
    status: "pending",
    error: null,
    lastStatusSec: 0,
    spawned: false,
  });
  const options = { repo: "acme/r", workflow: "t.yml" };

  test("a manual trigger builds its ref (else the default branch) and passes its inputs", () => {
    const inputs = dispatchInputs({
      workflow: workflow({
        kind: "manual",
        manual: {
          inputs: [
            { key: "target", value: "arm64" },
            { key: "os", value: "freebsd" },
          ],
        },
        repo,
      }),
      options: { ...options, inputs: { os: "linux", shards: 2 } },
      correlationId,
      variables: {},
      dev: true,
    });
    // A manual input the runner declares (it is a tack.github.inputs name) replaces the default.
    expect(inputs.os).toBe("freebsd");
    expect(inputs.shards).toBe("2");
    expect(inputs.target).toBeUndefined();
    expect(inputs.clone_url).toBe(`http://${KNOT}/${REPO_DID}/app`);
    expect(inputs.commit).toBe("");
    expect(JSON.parse(inputs.tangled ?? "")).toMatchObject({
      event: "manual",
      ref: "refs/heads/trunk",
      commit: "",
      manual_inputs: { target: "arm64", os: "freebsd" },
    });

    const pinned = dispatchInputs({
      workflow: workflow({ kind: "manual", manual: { sha: SHA, ref: "release" }, repo }),
      options,
      correlationId,
      variables: {},
      dev: false,
    });
    expect(pinned.commit).toBe(SHA);
    expect(JSON.parse(pinned.tangled ?? "")).toMatchObject({ ref: "refs/heads/release" });
  });

  test("a push uses the pushed sha and ref; the build variables travel in tangled.env", () => {
    const inputs = dispatchInputs({
      workflow: workflow({
        kind: "push",
        push: { newSha: SHA, oldSha: "0".repeat(40), ref: "refs/tags/v1" },
        repo,
      }),
      options,
      correlationId,
      variables: {
        TACK_SECRETS_URL: "https://spindle.example.com/secrets",
        TACK_SECRETS_TOKEN: "one-time-7f3a9c",
      },
      dev: false,
    });
    expect(Object.keys(inputs).sort()).toEqual([
      "clone_url",
      "commit",
      "correlation_id",
      "tangled",
    ]);
    expect(inputs.commit).toBe(SHA);
    expect(JSON.parse(inputs.tangled ?? "")).toMatchObject({
      ref: "refs/tags/v1",
      event: "push",
      env: {
        TACK_SECRETS_URL: "https://spindle.example.com/secrets",
        TACK_SECRETS_TOKEN: "one-time-7f3a9c",
      },
    });
  });

  test("a pull request from a fork clones the fork, at the head, with the PR's fields", () => {
    const fork = "did:plc:fork00000000000000000000";
    const inputs = dispatchInputs({
      workflow: workflow({
        kind: "pull_request",
        pullRequest: {
          sourceBranch: "feature/x",
          targetBranch: "main",
          sourceSha: SHA,
          action: "opened",
          pull: "at://did:plc:owner/sh.tangled.repo.pull/3m6a",
        },
        repo: { ...repo, repoDid: "did:plc:repo000000000000000000000" },
        sourceRepo: fork,
      }),
      options,
      correlationId,
      variables: {},
      dev: false,
    });
    expect(inputs.clone_url).toBe(`https://${KNOT}/${fork}`);
    expect(JSON.parse(inputs.tangled ?? "")).toMatchObject({
      event: "pull_request",
      commit: SHA,
      ref: "refs/heads/feature/x",
      source_repo_did: fork,
      source_branch: "feature/x",
      target_branch: "main",
      pull_request_action: "opened",
      pull_request_uri: "at://did:plc:owner/sh.tangled.repo.pull/3m6a",
    });
  });

  test("a repo with its own DID is cloned by it", () => {
    const inputs = dispatchInputs({
      workflow: workflow({
        kind: "push",
        push: { newSha: SHA, oldSha: "0".repeat(40), ref: "refs/heads/main" },
        repo: { ...repo, repoDid: "did:plc:repo000000000000000000000" },
      }),
      options,
      correlationId,
      variables: {},
      dev: false,
    });
    expect(inputs.clone_url).toBe(`https://${KNOT}/did:plc:repo000000000000000000000`);
  });

  test("a context that is not trigger metadata is refused", () => {
    expect(() =>
      dispatchInputs({
        workflow: workflow({}),
        options,
        correlationId: "tack-x",
        variables: {},
        dev: false,
      }),
    ).toThrow("the workflow carries no trigger metadata to build from");
  });
});
