/**
 * The `tack.gitlab` block of a workflow, e.g.
 *
 *   tack:
 *     gitlab:
 *       project: acme/tangled-runner   # the runner project (full path or numeric id)
 *       ref: main                      # its branch or tag to run (default: its default branch)
 *       inputs: { os: linux }          # extra inputs its .gitlab-ci.yml declares
 *       variables: { DEPLOY: "false" } # pipeline variables, where the project allows them
 *
 * `project` may be left out when TACK_GITLAB_PROJECT names a default. Problems come back as one
 * sentence naming the option, which becomes the workflow's `failed` error and its log.
 */
import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { JsonValue } from "../../eventlog/canonical-json.ts";
import { RESERVED_INPUTS } from "../tangled-input.ts";
import { PROJECT_PATTERN } from "./config.ts";
import { MAX_EXTRA_INPUTS } from "./request.ts";

// Input names as `$[[ inputs.<name> ]]` can refer to them.
const INPUT_NAME = "^[A-Za-z_][A-Za-z0-9_-]{0,99}$";
// GitLab's rule for CI/CD variable keys: letters, digits and "_".
const VARIABLE_NAME = "^[A-Za-z_][A-Za-z0-9_]{0,254}$";
export const MAX_VARIABLES = 50;

const Scalar = Type.Union([Type.String(), Type.Number(), Type.Boolean()]);

export const GitlabOptions = Type.Object(
  {
    project: Type.Optional(
      Type.Union([
        Type.String({ pattern: PROJECT_PATTERN, maxLength: 255 }),
        Type.Integer({ minimum: 1 }),
      ]),
    ),
    ref: Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: "^\\S+$" })),
    inputs: Type.Optional(
      Type.Record(Type.String({ pattern: INPUT_NAME }), Type.Union([Scalar, Type.Array(Scalar)]), {
        additionalProperties: false,
      }),
    ),
    variables: Type.Optional(
      Type.Record(Type.String({ pattern: VARIABLE_NAME }), Scalar, { additionalProperties: false }),
    ),
  },
  { additionalProperties: false },
);
export type GitlabOptions = Static<typeof GitlabOptions>;

const KNOWN = ["project", "ref", "inputs", "variables"];
const EXAMPLE = "e.g. { project: acme/tangled-runner }";

/**
 * What is wrong with a `tack.gitlab` block, or undefined when it is usable. `defaultProject`
 * is TACK_GITLAB_PROJECT: with it, `project` may be left out.
 */
export function checkGitlabOptions(
  options: unknown,
  defaultProject: string | undefined,
): string | undefined {
  if (!isMapping(options)) return `tack.gitlab: must be a mapping, ${EXAMPLE}`;
  const unknown = Object.keys(options).find((key) => !KNOWN.includes(key));
  if (unknown !== undefined)
    return `tack.gitlab.${unknown}: unknown option (known: ${KNOWN.join(", ")})`;

  const { project, ref, inputs, variables } = options;
  if (project === undefined && defaultProject === undefined)
    return `tack.gitlab.project: required, the runner project as "group/name" or its numeric id, ${EXAMPLE}`;
  if (project !== undefined && !projectOk(project))
    return `tack.gitlab.project: must be a project's full path ("group/name", subgroups allowed) or its numeric id, got ${shown(project)}`;
  if (ref !== undefined && (typeof ref !== "string" || !/^\S{1,255}$/.test(ref)))
    return `tack.gitlab.ref: must be a branch or tag name of the runner project, got ${shown(ref)}`;
  if (inputs !== undefined) {
    const problem = checkInputs(inputs);
    if (problem) return problem;
  }
  if (variables !== undefined) {
    const problem = checkVariables(variables);
    if (problem) return problem;
  }
  // The checks above give the messages; the schema stays the single definition of "valid".
  const error = Value.Errors(GitlabOptions, options).First();
  return error ? `tack.gitlab${error.path.replaceAll("/", ".")}: ${error.message}` : undefined;
}

function checkInputs(inputs: unknown): string | undefined {
  if (!isMapping(inputs)) return "tack.gitlab.inputs: must be a mapping of input name to value";
  const names = Object.keys(inputs);
  if (names.length > MAX_EXTRA_INPUTS)
    return `tack.gitlab.inputs: at most ${MAX_EXTRA_INPUTS} (GitLab takes 20 inputs per pipeline and tack sends ${RESERVED_INPUTS.length}), got ${names.length}`;
  for (const name of names) {
    if (!new RegExp(INPUT_NAME).test(name))
      return `tack.gitlab.inputs.${name}: not a valid input name (a letter or "_" first, then letters, digits, "-" or "_")`;
    if (RESERVED_INPUTS.includes(name))
      return `tack.gitlab.inputs.${name}: reserved, tack sets it (${RESERVED_INPUTS.join(", ")})`;
    const value = inputs[name];
    const ok = Array.isArray(value) ? value.every(isScalar) : isScalar(value);
    if (!ok)
      return `tack.gitlab.inputs.${name}: must be a string, number, boolean or a list of them`;
  }
  return undefined;
}

function checkVariables(variables: unknown): string | undefined {
  if (!isMapping(variables))
    return "tack.gitlab.variables: must be a mapping of variable name to value";
  const names = Object.keys(variables);
  if (names.length > MAX_VARIABLES)
    return `tack.gitlab.variables: at most ${MAX_VARIABLES}, got ${names.length}`;
  for (const name of names) {
    if (!new RegExp(VARIABLE_NAME).test(name))
      return `tack.gitlab.variables.${name}: not a valid variable name (letters, digits and "_", not starting with a digit)`;
    if (!isScalar(variables[name]))
      return `tack.gitlab.variables.${name}: must be a string, number or boolean`;
  }
  return undefined;
}

/**
 * The options of a workflow whose block passed checkGitlabOptions (re-validated: it is stored),
 * with the project filled in from the default.
 */
export function readGitlabOptions(
  options: JsonValue,
  defaultProject: string | undefined,
): GitlabOptions & { project: string } {
  if (Value.Check(GitlabOptions, options)) {
    const project = options.project ?? defaultProject;
    if (project !== undefined) return { ...options, project: String(project) };
  }
  throw new Error(checkGitlabOptions(options, defaultProject) ?? "tack.gitlab: invalid options");
}

function projectOk(project: unknown): boolean {
  if (typeof project === "number") return Number.isInteger(project) && project > 0;
  return (
    typeof project === "string" &&
    project.length <= 255 &&
    new RegExp(PROJECT_PATTERN).test(project)
  );
}

function isScalar(value: unknown): value is string | number | boolean {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
