/**
 * Decides which of a commit's workflow files a trigger runs, the way Tangled's own spindles do,
 * and compiles each into the pipeline record's workflow entry.
 *
 * A file runs when:
 * - the trigger is manual (the caller picks the workflows), or it has no `when:`, or
 * - any one of its `when:` constraints matches: its `event` lists the trigger's kind, and
 *   - push: the ref is `refs/heads/X` and some `branch` pattern matches X, or `refs/tags/X` and
 *     some `tag` pattern matches X (other refs, and an empty list, never match);
 *   - pull request: some `branch` pattern matches the *target* branch, and the action is in
 *     `types` (default opened, reopened, synchronize; no action counts as opened);
 *   - and when `paths` is given, at least one changed file matches one of its patterns
 *     (only pushes know their changed files, so `paths` never matches anything else).
 * Fields take a string or a list of strings. Patterns are globs: `*` stays within a path
 * segment, `**` crosses segments, `?`, `[...]` and `{a,b}` as usual (Bun.Glob).
 *
 * A file that is not valid YAML, whose `when:` is malformed, or that names no `engine` is left
 * out, with a diagnostic saying why; the caller logs them.
 */
import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { WorkflowFile } from "../tangled/knot-xrpc.ts";
import type { PipelineWorkflow, TriggerMetadata } from "../tangled/lexicons.ts";

const StringList = Type.Union([Type.String(), Type.Array(Type.String()), Type.Null()]);

const Constraint = Type.Object({
  event: Type.Optional(StringList),
  branch: Type.Optional(StringList),
  tag: Type.Optional(StringList),
  types: Type.Optional(StringList),
  paths: Type.Optional(StringList),
});
type Constraint = Static<typeof Constraint>;

const WorkflowDefinition = Type.Object({
  engine: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  when: Type.Optional(Type.Union([Type.Array(Constraint), Type.Null()])),
  clone: Type.Optional(
    Type.Union([
      Type.Object({
        skip: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
        depth: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
        submodules: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
        tags: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
      }),
      Type.Null(),
    ]),
  ),
});

export const DEFAULT_PULL_REQUEST_TYPES = ["opened", "reopened", "synchronize"];

export interface Compiled {
  /** The files that run, in the order given, as the pipeline record lists them. */
  workflows: PipelineWorkflow[];
  /** Why other files do not run (parse errors, missing engine), one line each. */
  diagnostics: string[];
}

export function compileWorkflows(
  files: readonly WorkflowFile[],
  trigger: TriggerMetadata,
  changedFiles: readonly string[] = [],
): Compiled {
  const compiled: Compiled = { workflows: [], diagnostics: [] };
  for (const file of files) {
    let document: unknown;
    try {
      document = Bun.YAML.parse(file.content);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      compiled.diagnostics.push(`${file.name}: not valid YAML: ${reason}`);
      continue;
    }
    // An empty file parses to null: no engine, reported below.
    const definition = document ?? {};
    if (!Value.Check(WorkflowDefinition, definition)) {
      const error = Value.Errors(WorkflowDefinition, definition).First();
      compiled.diagnostics.push(
        `${file.name}: ${error ? `${error.path || "/"}: ${error.message}` : "not a workflow"}`,
      );
      continue;
    }
    if (!matches(definition.when ?? [], trigger, changedFiles)) continue;
    if (!definition.engine) {
      compiled.diagnostics.push(`${file.name}: missing engine`);
      continue;
    }
    const clone = definition.clone ?? {};
    compiled.workflows.push({
      name: file.name,
      engine: definition.engine,
      raw: file.content,
      clone: {
        skip: clone.skip ?? false,
        depth: clone.depth ?? 0,
        submodules: clone.submodules ?? true,
        tags: clone.tags ?? true,
      },
    });
  }
  return compiled;
}

function matches(
  when: Constraint[],
  trigger: TriggerMetadata,
  changedFiles: readonly string[],
): boolean {
  if (trigger.kind === "manual" || when.length === 0) return true;
  return when.some((constraint) => constraintMatches(constraint, trigger, changedFiles));
}

function constraintMatches(
  constraint: Constraint,
  trigger: TriggerMetadata,
  changedFiles: readonly string[],
): boolean {
  if (!list(constraint.event).includes(trigger.kind)) return false;
  const pull = trigger.pullRequest;
  if (trigger.kind === "pull_request" && pull) {
    if (!anyMatch(list(constraint.branch), pull.targetBranch)) return false;
    const types = list(constraint.types);
    const action = pull.action === undefined || pull.action === "create" ? "opened" : pull.action;
    if (!(types.length > 0 ? types : DEFAULT_PULL_REQUEST_TYPES).includes(action)) return false;
  }
  if (trigger.kind === "push" && trigger.push && !refMatches(constraint, trigger.push.ref)) {
    return false;
  }
  const paths = list(constraint.paths);
  if (paths.length > 0 && !changedFiles.some((file) => anyMatch(paths, file))) return false;
  return true;
}

function refMatches(constraint: Constraint, ref: string): boolean {
  if (ref.startsWith("refs/heads/")) {
    return anyMatch(list(constraint.branch), ref.slice("refs/heads/".length));
  }
  if (ref.startsWith("refs/tags/")) {
    return anyMatch(list(constraint.tag), ref.slice("refs/tags/".length));
  }
  return false;
}

/** True when some pattern matches `name`; an empty list matches nothing. */
export function anyMatch(patterns: readonly string[], name: string): boolean {
  return patterns.some((pattern) => globOf(pattern).match(name));
}

const globs = new Map<string, Bun.Glob>();

/**
 * The compiled glob of a pattern. A leading "!" is a literal character here, as in Tangled's
 * matcher (Bun.Glob would read it as negation).
 */
function globOf(pattern: string): Bun.Glob {
  let glob = globs.get(pattern);
  if (!glob) {
    glob = new Bun.Glob(pattern.startsWith("!") ? `\\${pattern}` : pattern);
    if (globs.size > 1_000) globs.clear();
    globs.set(pattern, glob);
  }
  return glob;
}

function list(value: string | string[] | null | undefined): string[] {
  if (value === null || value === undefined) return [];
  return typeof value === "string" ? [value] : value;
}
