/**
 * `when:` matching and workflow compilation, case by case from Tangled's rules: event kinds,
 * branch and tag globs, pull request types and their defaults, paths against changed files,
 * manual runs, and files that cannot run.
 */
import { describe, expect, test } from "bun:test";
import { anyMatch, compileWorkflows } from "../../src/pipeline/compile.ts";
import type { TriggerMetadata } from "../../src/tangled/lexicons.ts";

const REPO = { knot: "knot.example.com", did: "did:plc:owner", defaultBranch: "main" };
const SHA = "a".repeat(40);

function push(ref: string): TriggerMetadata {
  return { kind: "push", repo: REPO, push: { ref, newSha: SHA, oldSha: "0".repeat(40) } };
}

function pull(targetBranch: string, action?: string): TriggerMetadata {
  return {
    kind: "pull_request",
    repo: REPO,
    pullRequest: { sourceBranch: "feature", targetBranch, sourceSha: SHA, action },
  };
}

const manual: TriggerMetadata = { kind: "manual", repo: REPO, manual: { sha: SHA } };

/** Names of the workflows that run for `trigger`, given files as name → YAML. */
function runs(files: Record<string, string>, trigger: TriggerMetadata, changed: string[] = []) {
  const list = Object.entries(files).map(([name, content]) => ({ name, content }));
  return compileWorkflows(list, trigger, changed).workflows.map((w) => w.name);
}

describe("globs", () => {
  const cases: [string, string, boolean][] = [
    ["main", "main", true],
    ["main", "main2", false],
    ["*", "main", true],
    ["*", "feature/login", false], // * stays within a segment
    ["feature/*", "feature/login", true],
    ["feature/*", "feature/a/b", false],
    ["**", "feature/a/b", true], // ** crosses segments
    ["feature/**", "feature/a/b", true],
    ["release-?", "release-1", true],
    ["release-?", "release-10", false],
    ["v[0-9]*", "v1.2.3", true],
    ["v[0-9]*", "vnext", false],
    ["{main,develop}", "develop", true],
    ["{main,develop}", "staging", false],
    ["src/**/*.ts", "src/a.ts", true],
    ["src/**/*.ts", "src/x/y/a.ts", true],
    ["*.md", "docs/readme.md", false],
    ["**/*.md", "docs/readme.md", true],
    ["!main", "!main", true], // a literal "!", not a negation
    ["!main", "develop", false],
  ];
  for (const [pattern, name, expected] of cases) {
    test(`${pattern} ${expected ? "matches" : "does not match"} ${name}`, () => {
      expect(anyMatch([pattern], name)).toBe(expected);
    });
  }
  test("an empty pattern list matches nothing", () => {
    expect(anyMatch([], "main")).toBe(false);
  });
});

describe("when: matching", () => {
  const onMain = "engine: x\nwhen:\n  - event: push\n    branch: main\n";
  test("no when: always runs; a push to a matching branch runs", () => {
    expect(runs({ "a.yml": "engine: x\n", "b.yml": onMain }, push("refs/heads/main"))).toEqual([
      "a.yml",
      "b.yml",
    ]);
    expect(runs({ "b.yml": onMain }, push("refs/heads/dev"))).toEqual([]);
  });

  test("event must list the trigger's kind; fields take a string or a list", () => {
    const both = "engine: x\nwhen:\n  - event: [push, pull_request]\n    branch: [main, dev]\n";
    expect(runs({ w: both }, push("refs/heads/dev"))).toEqual(["w"]);
    expect(runs({ w: both }, pull("main"))).toEqual(["w"]);
    expect(runs({ w: onMain }, pull("main"))).toEqual([]);
  });

  test("tags match `tag`, not `branch`; other refs never match", () => {
    const tags = "engine: x\nwhen:\n  - event: push\n    tag: 'v*'\n";
    expect(runs({ w: tags }, push("refs/tags/v1.0"))).toEqual(["w"]);
    expect(runs({ w: tags }, push("refs/heads/v1.0"))).toEqual([]);
    expect(runs({ w: onMain }, push("refs/tags/main"))).toEqual([]);
    expect(runs({ w: onMain }, push("refs/notes/main"))).toEqual([]);
    const noBranch = "engine: x\nwhen:\n  - event: push\n";
    expect(runs({ w: noBranch }, push("refs/heads/main"))).toEqual([]);
  });

  test("any one constraint is enough", () => {
    const two =
      "engine: x\nwhen:\n  - event: push\n    branch: main\n  - event: push\n    tag: '*'\n";
    expect(runs({ w: two }, push("refs/tags/anything"))).toEqual(["w"]);
    expect(runs({ w: two }, push("refs/heads/main"))).toEqual(["w"]);
    expect(runs({ w: two }, push("refs/heads/other"))).toEqual([]);
  });

  test("pull requests match the target branch and default to opened, reopened, synchronize", () => {
    const prs = "engine: x\nwhen:\n  - event: pull_request\n    branch: main\n";
    for (const action of ["opened", "reopened", "synchronize", undefined, "create"]) {
      expect(runs({ w: prs }, pull("main", action))).toEqual(["w"]);
    }
    for (const action of ["closed", "merged"])
      expect(runs({ w: prs }, pull("main", action))).toEqual([]);
    expect(runs({ w: prs }, pull("dev", "opened"))).toEqual([]);
    const closing =
      "engine: x\nwhen:\n  - event: pull_request\n    branch: '*'\n    types: [closed, merged]\n";
    expect(runs({ w: closing }, pull("dev", "merged"))).toEqual(["w"]);
    expect(runs({ w: closing }, pull("dev", "opened"))).toEqual([]);
  });

  test("paths: at least one changed file must match; pull requests know no changed files", () => {
    const docs =
      "engine: x\nwhen:\n  - event: [push, pull_request]\n    branch: main\n    paths: ['docs/**', '*.md']\n";
    expect(runs({ w: docs }, push("refs/heads/main"), ["src/a.ts", "docs/x/y.txt"])).toEqual(["w"]);
    expect(runs({ w: docs }, push("refs/heads/main"), ["README.md"])).toEqual(["w"]);
    expect(runs({ w: docs }, push("refs/heads/main"), ["src/a.ts", "src/README.md"])).toEqual([]);
    expect(runs({ w: docs }, push("refs/heads/main"), [])).toEqual([]);
    expect(runs({ w: docs }, pull("main"))).toEqual([]);
  });

  test("a manual run takes every workflow, whatever its when:", () => {
    expect(
      runs({ a: onMain, b: "engine: x\nwhen:\n  - event: pull_request\n    branch: x\n" }, manual),
    ).toEqual(["a", "b"]);
  });
});

describe("compiling", () => {
  test("clone options default to submodules and tags on, depth 0, no skip; the raw file is kept", () => {
    const content = "engine: nixery\nclone:\n  depth: 1\n  tags: false\n";
    const { workflows } = compileWorkflows([{ name: "ci.yml", content }], manual);
    expect(workflows).toEqual([
      {
        name: "ci.yml",
        engine: "nixery",
        raw: content,
        clone: { skip: false, depth: 1, submodules: true, tags: false },
      },
    ]);
  });

  test("files that cannot run are left out with a diagnostic naming them", () => {
    const { workflows, diagnostics } = compileWorkflows(
      [
        { name: "ok.yml", content: "engine: x\n" },
        { name: "broken.yml", content: "engine: [unclosed\n" },
        { name: "no-engine.yml", content: "tack: { fake: {} }\n" },
        { name: "empty.yml", content: "" },
        { name: "bad-when.yml", content: "engine: x\nwhen: push\n" },
        { name: "bad-list.yml", content: "engine: x\nwhen:\n  - event: [push, 3]\n" },
      ],
      push("refs/heads/main"),
    );
    expect(workflows.map((w) => w.name)).toEqual(["ok.yml"]);
    expect(diagnostics.map((d) => d.split(":")[0])).toEqual([
      "broken.yml",
      "no-engine.yml",
      "empty.yml",
      "bad-when.yml",
      "bad-list.yml",
    ]);
    expect(diagnostics[1]).toBe("no-engine.yml: missing engine");
  });

  test("a file whose when: does not match is not a diagnostic, even without an engine", () => {
    const { workflows, diagnostics } = compileWorkflows(
      [{ name: "w", content: "when:\n  - event: pull_request\n    branch: main\n" }],
      push("refs/heads/main"),
    );
    expect(workflows).toEqual([]);
    expect(diagnostics).toEqual([]);
  });
});
