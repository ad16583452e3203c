/** `tack.github` options: every problem is one sentence naming the option; inputs for the runner. */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { dispatchInputs } from "../../../src/providers/github/inputs.ts";
import { checkGithubOptions } from "../../../src/providers/github/options.ts";
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
  const workflow = { knot: KNOT, pipelineRkey: "3m6mxh2znw222", name: "ci.yml" };
  const repo = { defaultBranch: "trunk", did: REPO_DID, knot: KNOT, repo: "app" };

  test("a manual trigger builds the default branch and passes its inputs", () => {
    const inputs = dispatchInputs({
      context: { kind: "manual", manual: { inputs: [{ key: "target", value: "arm64" }] }, repo },
      workflow,
      correlationId: "tack-00000000-0000-4000-8000-000000000000",
      dev: true,
      extra: { os: "linux" },
    });
    expect(inputs.os).toBe("linux");
    expect(inputs.clone_url).toBe(`http://${KNOT}/${REPO_DID}/app`);
    expect(inputs.commit).toBe("");
    expect(JSON.parse(inputs.tangled ?? "")).toMatchObject({
      event: "manual",
      ref: "refs/heads/trunk",
      commit: "",
      manual_inputs: { target: "arm64" },
    });
  });

  test("a push uses the pushed sha and ref", () => {
    const inputs = dispatchInputs({
      context: {
        kind: "push",
        push: { newSha: SHA, oldSha: "0".repeat(40), ref: "refs/tags/v1" },
        repo,
      },
      workflow,
      correlationId: "tack-00000000-0000-4000-8000-000000000000",
      dev: false,
      extra: undefined,
    });
    expect(Object.keys(inputs)).toHaveLength(4);
    expect(inputs.commit).toBe(SHA);
    expect(JSON.parse(inputs.tangled ?? "")).toMatchObject({ ref: "refs/tags/v1", event: "push" });
  });

  test("a context that is not trigger metadata is refused", () => {
    expect(() =>
      dispatchInputs({
        context: {},
        workflow,
        correlationId: "tack-x",
        dev: false,
        extra: undefined,
      }),
    ).toThrow("github: the workflow has no trigger context to build inputs from");
  });
});
