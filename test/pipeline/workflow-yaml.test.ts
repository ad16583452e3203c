import { expect, test } from "bun:test";
import { readTackBlock } from "../../src/pipeline/workflow-yaml.ts";

test("the first key of tack: names the provider; its value is the options", () => {
  expect(
    readTackBlock("engine: tack\ntack:\n  buildkite:\n    pipeline: my-app\n    env: { A: 1 }\n"),
  ).toEqual({
    ok: true,
    provider: "buildkite",
    options: { pipeline: "my-app", env: { A: 1 } },
  });
  expect(readTackBlock("tack: { fake: {} }")).toEqual({ ok: true, provider: "fake", options: {} });
  expect(readTackBlock("tack:\n  fake:\n")).toEqual({ ok: true, provider: "fake", options: {} });
  expect(readTackBlock("tack:\n  github: { repo: a/b }\n  fake: {}\n")).toMatchObject({
    provider: "github",
  });
});

test("the engine field is ignored", () => {
  expect(readTackBlock("engine: nixery\ntack: { fake: { result: failed } }")).toEqual({
    ok: true,
    provider: "fake",
    options: { result: "failed" },
  });
});

test("every unusable workflow gets a sentence its author can act on", () => {
  const cases: [string, string][] = [
    ["engine: nixery\n", 'workflow has no "tack:" block naming the CI to run it'],
    ["tack:\n", 'workflow has no "tack:" block naming the CI to run it'],
    ["tack: buildkite\n", '"tack:" must be a mapping whose first key names the CI'],
    ["tack: [fake]\n", '"tack:" must be a mapping whose first key names the CI'],
    ["tack: {}\n", '"tack:" is empty: name the CI to run this workflow'],
    ["- a\n- b\n", "workflow YAML is not a mapping"],
    ["tack: {fake: [\n", "workflow YAML does not parse"],
    [`tack: { fake: {} }\n#${"x".repeat(300_000)}`, "workflow file is larger than"],
  ];
  for (const [raw, message] of cases) {
    const block = readTackBlock(raw);
    expect(block.ok).toBe(false);
    if (!block.ok) expect(block.error).toStartWith(message);
  }
});
