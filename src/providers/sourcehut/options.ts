/**
 * The `tack.sourcehut` block of a workflow, as the Go tack reads it, e.g.
 *
 *   tack:
 *     sourcehut:
 *       manifest: |
 *         image: alpine/edge
 *         tasks:
 *           - test: make test
 *       tags: [tack, ci]           # default [tack]
 *       note: nightly              # default "tangled: <workflow> @ <short commit>"
 *       secrets: true              # default false: sourcehut's own secrets stay off
 *       instance: https://builds.sr.ht
 *       visibility: private        # tack's addition; sourcehut's default when absent
 *
 * The manifest is checked the way builds.sr.ht checks it on submit (image, tasks, task names),
 * so its author hears about a mistake at once, in one sentence naming the option; that
 * sentence becomes the workflow's `failed` error and its log.
 */
import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { JsonValue } from "../../eventlog/canonical-json.ts";
import { baseUrl } from "./config.ts";

/** Set by tack in every manifest's environment; how tack finds its job again after a crash. */
export const CORRELATION_VARIABLE = "TACK_CORRELATION_ID";

// sourcehut stores tags joined with "/", so a tag holds neither "/" nor spaces.
const TAG = "^[^\\s/]{1,64}$";
// builds.sr.ht's own rule for task names.
const TASK_NAME = /^[a-z0-9_-]+$/;
const VISIBILITY = ["public", "unlisted", "private"] as const;

export const SourcehutOptions = Type.Object(
  {
    manifest: Type.Union([
      Type.String({ minLength: 1 }),
      Type.Record(Type.String(), Type.Unknown()),
    ]),
    instance: Type.Optional(Type.String({ pattern: "^https?://[^\\s/]+(?:/[^\\s]*)?$" })),
    tags: Type.Optional(Type.Array(Type.String({ pattern: TAG }), { minItems: 1, maxItems: 16 })),
    note: Type.Optional(Type.String({ maxLength: 4096 })),
    secrets: Type.Optional(Type.Boolean()),
    visibility: Type.Optional(Type.Union(VISIBILITY.map((value) => Type.Literal(value)))),
  },
  { additionalProperties: false },
);
export type SourcehutOptions = Static<typeof SourcehutOptions>;

const KNOWN = ["manifest", "instance", "tags", "note", "secrets", "visibility"];
const EXAMPLE = 'e.g. { manifest: "image: alpine/edge\\ntasks:\\n  - test: make test" }';

/**
 * What is wrong with a `tack.sourcehut` block, or undefined when it is usable. `instances` are
 * the base URLs the operator allows (the default first).
 */
export function checkSourcehutOptions(options: unknown, instances: string[]): string | undefined {
  if (!isMapping(options)) return `tack.sourcehut: must be a mapping, ${EXAMPLE}`;
  const unknown = Object.keys(options).find((key) => !KNOWN.includes(key));
  if (unknown !== undefined)
    return `tack.sourcehut.${unknown}: unknown option (known: ${KNOWN.join(", ")})`;
  const { manifest, instance, tags, note, secrets, visibility } = options;
  if (manifest === undefined || manifest === null || manifest === "")
    return `tack.sourcehut.manifest: required, the builds.sr.ht build manifest, ${EXAMPLE}`;
  if (typeof manifest !== "string" && !isMapping(manifest))
    return "tack.sourcehut.manifest: must be the build manifest as a YAML text (manifest: |) or mapping";
  const problem = manifestProblem(manifestText(manifest));
  if (problem) return `tack.sourcehut.manifest: ${problem}`;
  if (instance !== undefined) {
    if (typeof instance !== "string" || !/^https?:\/\/\S+$/.test(instance))
      return `tack.sourcehut.instance: must be a URL such as https://builds.sr.ht, got ${shown(instance)}`;
    if (!instances.includes(baseUrl(instance)))
      return `tack.sourcehut.instance: ${baseUrl(instance)} is not one of this spindle's builds.sr.ht instances (${instances.join(", ")}); its operator can add it to TACK_SOURCEHUT_INSTANCES`;
  }
  if (tags !== undefined) {
    if (!Array.isArray(tags) || tags.length === 0 || tags.length > 16)
      return "tack.sourcehut.tags: must be a list of 1 to 16 tags, e.g. [tack, ci]";
    const bad = tags.find((tag) => typeof tag !== "string" || !new RegExp(TAG).test(tag));
    if (bad !== undefined)
      return `tack.sourcehut.tags: ${shown(bad)} is not a tag (1 to 64 characters, no "/" and no spaces)`;
  }
  if (note !== undefined && (typeof note !== "string" || note.length > 4096))
    return "tack.sourcehut.note: must be a text of at most 4096 characters";
  if (secrets !== undefined && typeof secrets !== "boolean")
    return `tack.sourcehut.secrets: must be true or false, got ${shown(secrets)}`;
  if (
    visibility !== undefined &&
    (typeof visibility !== "string" || !(VISIBILITY as readonly string[]).includes(visibility))
  )
    return `tack.sourcehut.visibility: must be one of ${VISIBILITY.join(", ")}, got ${shown(visibility)}`;
  // The checks above give the messages; the schema stays the single definition of "valid".
  const error = Value.Errors(SourcehutOptions, options).First();
  return error ? `tack.sourcehut${error.path.replaceAll("/", ".")}: ${error.message}` : undefined;
}

/** The options of a workflow whose block passed the check (re-validated: it is stored). */
export function readSourcehutOptions(options: JsonValue, instances: string[]): SourcehutOptions {
  const problem = checkSourcehutOptions(options, instances);
  if (problem === undefined && Value.Check(SourcehutOptions, options)) return options;
  throw new Error(problem ?? "tack.sourcehut: invalid options");
}

/** The manifest as text: as written, or (given as a mapping) as JSON, which YAML reads alike. */
export function manifestText(manifest: string | Record<string, unknown>): string {
  return typeof manifest === "string" ? manifest : `${JSON.stringify(manifest, null, 2)}\n`;
}

/** The manifest parsed; throws with the parser's reason. */
export function parseManifest(text: string): Record<string, unknown> {
  const document: unknown = Bun.YAML.parse(text);
  if (!isMapping(document)) throw new Error("not a mapping");
  return document;
}

/** What builds.sr.ht would refuse in the manifest (and what tack cannot merge into). */
function manifestProblem(text: string): string | undefined {
  let manifest: Record<string, unknown>;
  try {
    const document: unknown = Bun.YAML.parse(text);
    // (Several YAML documents parse to a list too: either way, not one manifest.)
    if (!isMapping(document))
      return "must be a build manifest (one YAML mapping with image: and tasks:)";
    manifest = document;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return `not valid YAML: ${reason}`;
  }
  if (typeof manifest.image !== "string" || manifest.image === "")
    return "image is required, e.g. image: alpine/edge";
  const tasks = manifest.tasks ?? [];
  if (!Array.isArray(tasks)) return "tasks: must be a list of { name: script }";
  if (tasks.length === 0 && manifest.shell !== true) return "tasks: at least one task is required";
  const names = new Set<string>();
  for (const task of tasks) {
    if (!isMapping(task) || Object.keys(task).length !== 1)
      return "tasks: each task is one { name: script } mapping";
    const [name = ""] = Object.keys(task);
    if (!TASK_NAME.test(name))
      return `tasks: invalid task name ${shown(name)} (lowercase letters, digits, "_" and "-")`;
    if (names.has(name)) return `tasks: duplicate task ${name}`;
    if (typeof task[name] !== "string") return `tasks.${name}: the script must be a text`;
    names.add(name);
  }
  const environment = manifest.environment;
  if (environment !== undefined && environment !== null && !isMapping(environment))
    return "environment: must be a mapping of NAME: value";
  if (isMapping(environment) && CORRELATION_VARIABLE in environment)
    return `environment: ${CORRELATION_VARIABLE} is tack's own (it finds the job by it)`;
  return undefined;
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
