/**
 * The `tack.buildkite` block of a workflow (docs/buildkite.md):
 *
 *   tack:
 *     buildkite:
 *       pipeline: my-app-ci       # required: the pipeline slug
 *       org: other-org            # default: TACK_BUILDKITE_ORG
 *       env: { DEPLOY: "false" }  # added to the build's env, over tack's TACK_* variables
 *       message: "…"              # default: a message naming the workflow and the trigger
 *       branch: main              # default: the pushed branch or tag, or the PR's source branch
 *       commit: HEAD              # default: the pushed or PR commit
 *
 * Problems come back as one sentence naming the key, which becomes the workflow's failed
 * status and its log.
 */
import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";

/** Buildkite's slug shape for organizations and pipelines. */
const SLUG = "^[a-z0-9][a-z0-9-]*$";
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const BuildkiteOptions = Type.Object(
  {
    pipeline: Type.String({ pattern: SLUG, maxLength: 100 }),
    org: Type.Optional(Type.String({ pattern: SLUG, maxLength: 100 })),
    // YAML reads `DEBUG: 1` as a number and `ON: true` as a boolean; both are sent as text.
    env: Type.Optional(
      Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()])),
    ),
    message: Type.Optional(Type.String({ minLength: 1, maxLength: 10_000 })),
    branch: Type.Optional(Type.String({ minLength: 1, maxLength: 1_000 })),
    commit: Type.Optional(Type.String({ minLength: 1, maxLength: 1_000 })),
  },
  { additionalProperties: false },
);
export type BuildkiteOptions = Static<typeof BuildkiteOptions>;

const HINTS: Record<string, string> = {
  pipeline: "the Buildkite pipeline slug, as in https://buildkite.com/<org>/<pipeline>",
  org: "a Buildkite organization slug",
  env: "a mapping of variable names to values",
  message: "a non-empty string",
  branch: "a non-empty string",
  commit: "a non-empty string",
};

/** What is wrong with the block, or undefined when it is usable. */
export function optionsProblem(options: unknown): string | undefined {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    return "tack.buildkite must be a mapping with at least `pipeline: <pipeline slug>`";
  }
  const error = Value.Errors(BuildkiteOptions, options).First();
  if (error) {
    const key = error.path.split("/").filter((part) => part !== "");
    const where = ["tack.buildkite", ...key].join(".");
    const top = key[0] ?? "";
    if (error.message === "Unexpected property") {
      return `${where} is not a known option (use pipeline, org, env, message, branch, commit)`;
    }
    if (error.message === "Expected required property")
      return `${where} is required: ${HINTS[top]}`;
    if (top === "env" && key.length > 1) return `${where} must be a string, number or boolean`;
    return `${where} must be ${HINTS[top] ?? "valid"} (${error.message})`;
  }
  for (const name of Object.keys(
    Value.Check(BuildkiteOptions, options) ? (options.env ?? {}) : {},
  )) {
    if (!ENV_NAME.test(name)) {
      return `tack.buildkite.env.${name} is not a valid environment variable name`;
    }
  }
  return undefined;
}

/** The options of a workflow whose block already passed `optionsProblem`. */
export function readOptions(options: unknown): BuildkiteOptions {
  if (Value.Check(BuildkiteOptions, options)) return options;
  throw new Error(optionsProblem(options) ?? "tack.buildkite is invalid");
}

/** Env values as Buildkite wants them: strings. */
export function envOf(options: BuildkiteOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.env ?? {})) env[name] = String(value);
  return env;
}
