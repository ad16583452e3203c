/** The tack.gitlab block: what passes, and the one-sentence answer for what does not. */
import { describe, expect, test } from "bun:test";
import { checkGitlabOptions } from "../../../src/providers/gitlab/options.ts";

describe("gitlab options", () => {
  test("usable blocks pass", () => {
    for (const options of [
      { project: "acme/tangled-runner" },
      { project: "acme/ci/runners/tangled.runner_1" },
      { project: 4242 },
      { project: "4242" },
      {
        project: "acme/tangled-runner",
        ref: "release/2026",
        inputs: { os: "linux", shards: 3, debug: true, targets: ["a", "b"] },
        variables: { DEPLOY: false, TARGET: "staging", RETRIES: 2 },
      },
    ]) {
      expect(checkGitlabOptions(options, undefined)).toBeUndefined();
    }
    expect(checkGitlabOptions({}, "acme/tangled-runner")).toBeUndefined();
  });

  test("each problem is one sentence naming the option", () => {
    const cases: [unknown, string][] = [
      ["acme/runner", "tack.gitlab: must be a mapping, e.g. { project: acme/tangled-runner }"],
      [
        {},
        'tack.gitlab.project: required, the runner project as "group/name" or its numeric id, e.g. { project: acme/tangled-runner }',
      ],
      [
        { project: "tangled-runner" },
        'tack.gitlab.project: must be a project\'s full path ("group/name", subgroups allowed) or its numeric id, got "tangled-runner"',
      ],
      [
        { project: "https://gitlab.com/acme/runner" },
        'tack.gitlab.project: must be a project\'s full path ("group/name", subgroups allowed) or its numeric id, got "https://gitlab.com/acme/runner"',
      ],
      [
        { project: 0 },
        'tack.gitlab.project: must be a project\'s full path ("group/name", subgroups allowed) or its numeric id, got 0',
      ],
      [
        { project: "a/b", pipeline: "x" },
        "tack.gitlab.pipeline: unknown option (known: project, ref, inputs, variables)",
      ],
      [
        { project: "a/b", ref: "two words" },
        'tack.gitlab.ref: must be a branch or tag name of the runner project, got "two words"',
      ],
      [
        { project: "a/b", inputs: { tangled: "x" } },
        "tack.gitlab.inputs.tangled: reserved, tack sets it (correlation_id, clone_url, commit, tangled)",
      ],
      [
        { project: "a/b", inputs: { "9lives": "x" } },
        'tack.gitlab.inputs.9lives: not a valid input name (a letter or "_" first, then letters, digits, "-" or "_")',
      ],
      [
        { project: "a/b", inputs: { os: { name: "linux" } } },
        "tack.gitlab.inputs.os: must be a string, number, boolean or a list of them",
      ],
      [
        {
          project: "a/b",
          inputs: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`i${i}`, "x"])),
        },
        "tack.gitlab.inputs: at most 16 (GitLab takes 20 inputs per pipeline and tack sends 4), got 17",
      ],
      [
        { project: "a/b", variables: { "DEPLOY-TARGET": "x" } },
        'tack.gitlab.variables.DEPLOY-TARGET: not a valid variable name (letters, digits and "_", not starting with a digit)',
      ],
      [
        { project: "a/b", variables: { DEPLOY: ["x"] } },
        "tack.gitlab.variables.DEPLOY: must be a string, number or boolean",
      ],
    ];
    for (const [options, message] of cases) {
      expect(checkGitlabOptions(options, undefined)).toBe(message);
    }
  });
});
