/**
 * The `tack.github` block of a workflow, e.g.
 *
 *   tack:
 *     github: { repo: acme/tangled-runner, workflow: tangled.yml, ref: main, inputs: { os: linux } }
 *
 * Problems come back as one sentence naming the option, which becomes the workflow's `failed`
 * error and its log, so the workflow's author can fix it without reading tack's code.
 */
import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { JsonValue } from "../../eventlog/canonical-json.ts";
import { RESERVED_INPUTS } from "../tangled-input.ts";
import { MAX_EXTRA_INPUTS } from "./request.ts";

const REPO = "^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$";
const WORKFLOW_FILE = "^[A-Za-z0-9._-]+$";
// GitHub's rule for input ids: a letter or "_" first, then letters, digits, "-" or "_".
const INPUT_NAME = "^[A-Za-z_][A-Za-z0-9_-]*$";

export const GithubOptions = Type.Object(
  {
    repo: Type.String({ pattern: REPO }),
    workflow: Type.Union([Type.String({ pattern: WORKFLOW_FILE }), Type.Integer({ minimum: 1 })]),
    ref: Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: "^\\S+$" })),
    inputs: Type.Optional(
      Type.Record(
        Type.String({ pattern: INPUT_NAME }),
        Type.Union([Type.String(), Type.Number(), Type.Boolean()]),
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type GithubOptions = Static<typeof GithubOptions>;

const KNOWN = ["repo", "workflow", "ref", "inputs"];
const EXAMPLE = "e.g. { repo: acme/tangled-runner, workflow: tangled.yml }";

/** What is wrong with a `tack.github` block, or undefined when it is usable. */
export function checkGithubOptions(options: unknown): string | undefined {
  if (!isMapping(options)) return `tack.github: must be a mapping, ${EXAMPLE}`;
  const unknown = Object.keys(options).find((key) => !KNOWN.includes(key));
  if (unknown !== undefined)
    return `tack.github.${unknown}: unknown option (known: ${KNOWN.join(", ")})`;

  const { repo, workflow, ref, inputs } = options;
  if (repo === undefined)
    return `tack.github.repo: required, the runner repository as "owner/name", ${EXAMPLE}`;
  if (typeof repo !== "string" || !new RegExp(REPO).test(repo))
    return `tack.github.repo: must be "owner/name", got ${shown(repo)}`;
  if (workflow === undefined)
    return `tack.github.workflow: required, the runner workflow's file name (e.g. tangled.yml) or numeric id`;
  const workflowOk =
    (typeof workflow === "string" && new RegExp(WORKFLOW_FILE).test(workflow)) ||
    (typeof workflow === "number" && Number.isInteger(workflow) && workflow > 0);
  if (!workflowOk)
    return `tack.github.workflow: must be a file name in .github/workflows (e.g. tangled.yml) or a numeric id, got ${shown(workflow)}`;
  if (ref !== undefined && (typeof ref !== "string" || !/^\S{1,255}$/.test(ref)))
    return `tack.github.ref: must be a branch or tag name of the runner repository, got ${shown(ref)}`;
  if (inputs !== undefined) {
    const problem = checkInputs(inputs);
    if (problem) return problem;
  }
  // The checks above give the messages; the schema stays the single definition of "valid".
  const error = Value.Errors(GithubOptions, options).First();
  return error ? `tack.github${error.path.replaceAll("/", ".")}: ${error.message}` : undefined;
}

function checkInputs(inputs: unknown): string | undefined {
  if (!isMapping(inputs)) return "tack.github.inputs: must be a mapping of input name to value";
  const names = Object.keys(inputs);
  if (names.length > MAX_EXTRA_INPUTS)
    return `tack.github.inputs: at most ${MAX_EXTRA_INPUTS} (GitHub takes 10 inputs per dispatch and tack sends ${RESERVED_INPUTS.length}), got ${names.length}`;
  for (const name of names) {
    if (!new RegExp(INPUT_NAME).test(name))
      return `tack.github.inputs.${name}: not a valid input name (a letter or "_" first, then letters, digits, "-" or "_")`;
    if (RESERVED_INPUTS.includes(name))
      return `tack.github.inputs.${name}: reserved, tack sets it (${RESERVED_INPUTS.join(", ")})`;
    const value = inputs[name];
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean")
      return `tack.github.inputs.${name}: must be a string, number or boolean`;
  }
  return undefined;
}

/** The options of a workflow whose block passed checkGithubOptions (re-validated: it is stored). */
export function readGithubOptions(options: JsonValue): GithubOptions {
  if (Value.Check(GithubOptions, options)) return options;
  throw new Error(checkGithubOptions(options) ?? "tack.github: invalid options");
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
