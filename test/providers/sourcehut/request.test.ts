/**
 * The submitted manifest: the author's text kept as written, tack's variables merged into its
 * `environment:` with the author's values winning, and whatever the shape, a document that
 * means exactly the author's manifest plus tack's variables.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { StoredWorkflow } from "../../../src/pipeline/workflows.ts";
import { checkSourcehutOptions } from "../../../src/providers/sourcehut/options.ts";
import {
  defaultNote,
  mergeEnvironment,
  submitRequest,
} from "../../../src/providers/sourcehut/request.ts";
import { MANIFEST, pushContext, SHA } from "./harness.ts";

const TACK = { TACK_COMMIT: SHA, TACK_WORKFLOW: "ci.yml" };

describe("mergeEnvironment", () => {
  test("adds tack's variables under the author's environment block, keeping every line", () => {
    const merged = mergeEnvironment(MANIFEST, TACK);
    for (const line of MANIFEST.split("\n")) expect(merged.split("\n")).toContain(line);
    expect(merged).toContain(`  TACK_COMMIT: "${SHA}"\n`);
    expect(Bun.YAML.parse(merged)).toEqual({
      image: "alpine/edge",
      environment: { GREETING: "hello", ...TACK },
      tasks: [{ build: "echo build\n" }, { test: "echo test\n" }],
    });
  });

  test("the author's value wins over tack's", () => {
    const merged = mergeEnvironment(
      "image: alpine/edge\nenvironment:\n  TACK_WORKFLOW: mine\ntasks:\n  - a: x\n",
      TACK,
    );
    expect((Bun.YAML.parse(merged) as { environment: unknown }).environment).toEqual({
      TACK_WORKFLOW: "mine",
      TACK_COMMIT: SHA,
    });
  });

  test("a manifest without environment gets a block at its end; CRLF stays CRLF", () => {
    const manifest = "image: alpine/edge\r\ntasks:\r\n  - a: x\r\n";
    const merged = mergeEnvironment(manifest, TACK);
    expect(merged.startsWith(manifest)).toBe(true);
    expect(merged.replaceAll("\r\n", "")).not.toContain("\n");
    expect((Bun.YAML.parse(merged) as { environment: unknown }).environment).toEqual(TACK);
  });

  test("an indented-by-four environment and an empty one are both kept in their shape", () => {
    const four = "image: a\nenvironment:\n    X: 1\ntasks:\n    - a: b\n";
    expect(mergeEnvironment(four, TACK)).toContain(`    TACK_COMMIT: "${SHA}"`);
    const empty = "image: a\nenvironment:\ntasks:\n  - a: b\n";
    const merged = mergeEnvironment(empty, TACK);
    expect(merged.startsWith("image: a\nenvironment:\n  TACK_")).toBe(true);
    expect((Bun.YAML.parse(merged) as { environment: unknown }).environment).toEqual(TACK);
  });

  test("a flow-style environment cannot take lines: the same document goes as JSON", () => {
    const manifest = "image: a\nenvironment: { X: 1 }\ntasks:\n  - a: b\n";
    const merged = mergeEnvironment(manifest, TACK);
    expect(merged.trimStart().startsWith("{")).toBe(true);
    expect(Bun.YAML.parse(merged)).toEqual({
      image: "a",
      environment: { X: 1, ...TACK },
      tasks: [{ a: "b" }],
    });
  });

  test("any value survives the round trip: newlines, quotes, escapes, unicode, YAML words", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (value) => {
        const merged = mergeEnvironment(MANIFEST, { TACK_WORKFLOW_RAW: value });
        const environment = (Bun.YAML.parse(merged) as { environment: Record<string, unknown> })
          .environment;
        expect(environment.TACK_WORKFLOW_RAW).toBe(value);
      }),
      { numRuns: 300 },
    );
    for (const word of [
      "yes",
      "no",
      "on",
      "null",
      "~",
      "1e3",
      "2024-01-01",
      "0x1f",
      "- x",
      "a: b",
    ]) {
      const merged = mergeEnvironment(MANIFEST, { TACK_BRANCH: word });
      expect(
        (Bun.YAML.parse(merged) as { environment: { TACK_BRANCH: unknown } }).environment
          .TACK_BRANCH,
      ).toBe(word);
      expect(merged).toContain(`TACK_BRANCH: ${JSON.stringify(word)}`);
    }
  });
});

describe("submitRequest", () => {
  const workflow = (options: Record<string, unknown>): StoredWorkflow => ({
    id: { knot: "knot.test:6000", pipelineRkey: "3m6mxh2znw222", name: "ci.yml" },
    provider: "sourcehut",
    options: JSON.parse(JSON.stringify(options)),
    context: JSON.parse(JSON.stringify(pushContext())),
    status: "pending",
    error: null,
    lastStatusSec: 0,
    spawned: false,
  });

  test("the Go tack's variables, tack's trigger context, the build variables and the correlation id", () => {
    const raw = "engine: tack\ntack:\n  sourcehut:\n    manifest: x\n";
    const request = submitRequest({
      workflow: workflow({ manifest: MANIFEST }),
      options: { manifest: MANIFEST },
      correlationId: "tack-0f9e2a47-3c1b-4d5e-8f70-112233445566",
      variables: {
        TACK_SECRETS_URL: "https://spindle.test/secrets",
        TACK_SECRETS_TOKEN: "one-time-token-value",
      },
      raw,
      dev: false,
    });
    const environment = (
      Bun.YAML.parse(request.manifest) as { environment: Record<string, string> }
    ).environment;
    expect(environment).toEqual(
      expect.objectContaining({
        GREETING: "hello",
        TACK_KNOT: "knot.test:6000",
        TACK_PIPELINE_RKEY: "3m6mxh2znw222",
        TACK_WORKFLOW: "ci.yml",
        TACK_WORKFLOW_RAW: raw,
        TACK_ACTOR: "did:plc:owner000000000000000000",
        TACK_COMMIT: SHA,
        TACK_BRANCH: "main",
        TACK_REF: "refs/heads/main",
        TACK_EVENT: "push",
        TACK_CLONE_URL: "https://knot.test:6000/did:plc:owner000000000000000000/app",
        TACK_SECRETS_URL: "https://spindle.test/secrets",
        TACK_SECRETS_TOKEN: "one-time-token-value",
        TACK_CORRELATION_ID: "tack-0f9e2a47-3c1b-4d5e-8f70-112233445566",
      }),
    );
    expect(request.note).toBe(`tangled: ci.yml @ ${SHA.slice(0, 7)}`);
    expect(request.tags).toEqual(["tack"]);
    expect(request.secrets).toBe(false);
    expect(request.visibility).toBeUndefined();
  });

  test("note, tags, secrets and visibility from the options", () => {
    const options = {
      manifest: MANIFEST,
      note: "nightly",
      tags: ["tack", "ci"],
      secrets: true,
      visibility: "private" as const,
    };
    const request = submitRequest({
      workflow: workflow(options),
      options,
      correlationId: "tack-x",
      variables: {},
      raw: "",
      dev: true,
    });
    expect(request).toMatchObject({
      note: "nightly",
      tags: ["tack", "ci"],
      secrets: true,
      visibility: "PRIVATE",
    });
    expect(defaultNote("ci.yml", undefined, "main")).toBe("tangled: ci.yml @ main");
  });
});

describe("checkSourcehutOptions", () => {
  const instances = ["https://builds.sr.ht"];
  const cases: [unknown, string | undefined][] = [
    [{ manifest: MANIFEST }, undefined],
    [{ manifest: { image: "alpine/edge", tasks: [{ a: "make" }] } }, undefined],
    [
      {
        manifest: MANIFEST,
        instance: "https://builds.sr.ht/",
        tags: ["a", "b.c"],
        note: "n",
        secrets: false,
        visibility: "unlisted",
      },
      undefined,
    ],
    [[], "tack.sourcehut: must be a mapping"],
    [{}, "tack.sourcehut.manifest: required"],
    [{ manifest: MANIFEST, pipeline: "x" }, "tack.sourcehut.pipeline: unknown option"],
    [{ manifest: "image: [" }, "tack.sourcehut.manifest: not valid YAML"],
    [{ manifest: "- a\n- b\n" }, "tack.sourcehut.manifest: must be a build manifest"],
    [{ manifest: "tasks:\n  - a: b\n" }, "tack.sourcehut.manifest: image is required"],
    [{ manifest: "image: a\n" }, "tack.sourcehut.manifest: tasks: at least one task is required"],
    [
      { manifest: "image: a\ntasks:\n  - Build: x\n" },
      'tack.sourcehut.manifest: tasks: invalid task name "Build"',
    ],
    [
      { manifest: "image: a\ntasks:\n  - a: x\n  - a: y\n" },
      "tack.sourcehut.manifest: tasks: duplicate task a",
    ],
    [
      { manifest: "image: a\nenvironment: [1]\ntasks:\n  - a: x\n" },
      "tack.sourcehut.manifest: environment: must be a mapping",
    ],
    [
      { manifest: "image: a\nenvironment:\n  TACK_CORRELATION_ID: x\ntasks:\n  - a: x\n" },
      "TACK_CORRELATION_ID is tack's own",
    ],
    [
      { manifest: MANIFEST, instance: "https://evil.example" },
      "tack.sourcehut.instance: https://evil.example is not one of this spindle's builds.sr.ht instances",
    ],
    [{ manifest: MANIFEST, instance: "ftp://x" }, "tack.sourcehut.instance: must be a URL"],
    [{ manifest: MANIFEST, tags: [] }, "tack.sourcehut.tags: must be a list of 1 to 16 tags"],
    [{ manifest: MANIFEST, tags: ["a/b"] }, 'tack.sourcehut.tags: "a/b" is not a tag'],
    [{ manifest: MANIFEST, secrets: "yes" }, "tack.sourcehut.secrets: must be true or false"],
    [
      { manifest: MANIFEST, visibility: "secret" },
      "tack.sourcehut.visibility: must be one of public, unlisted, private",
    ],
    [{ manifest: MANIFEST, note: 5 }, "tack.sourcehut.note: must be a text"],
  ];
  for (const [options, expected] of cases) {
    test(`${JSON.stringify(options).slice(0, 70)} → ${expected ?? "ok"}`, () => {
      const problem = checkSourcehutOptions(options, instances);
      if (expected === undefined) expect(problem).toBeUndefined();
      else expect(problem).toContain(expected);
    });
  }
});
