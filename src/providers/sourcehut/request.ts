/**
 * What tack submits to builds.sr.ht for a workflow: the manifest as its author wrote it, with
 * tack's `TACK_*` variables merged into its top-level `environment:` (the author's own values
 * win), the note and tags (the Go tack's defaults), and whether sourcehut's secrets apply.
 *
 * The variables are the Go tack's (TACK_KNOT, TACK_PIPELINE_RKEY, TACK_WORKFLOW,
 * TACK_WORKFLOW_RAW, TACK_ACTOR, TACK_COMMIT, TACK_BRANCH), the trigger context every tack build
 * gets (../build-target.ts: TACK_EVENT, TACK_REF, TACK_CLONE_URL, …), the build variables the
 * core hands to spawn (TACK_SECRETS_URL and a one-time TACK_SECRETS_TOKEN), and
 * TACK_CORRELATION_ID, by which tack recognises its job after a crash.
 *
 * "As written" is meant literally: the author's text, comments and quoting are kept, and only
 * lines for tack's variables are added (under an existing block-style `environment:`, or as a
 * new block at the end). The result is parsed back and compared with what it must mean; a
 * manifest whose shape defeats that (a flow-style or aliased environment) is sent as JSON,
 * which YAML reads as the same document.
 */
import type { StoredWorkflow } from "../../pipeline/workflows.ts";
import { buildTarget, contextVariables } from "../build-target.ts";
import type { BuildVariables } from "../provider.ts";
import {
  CORRELATION_VARIABLE,
  isMapping,
  manifestText,
  parseManifest,
  type SourcehutOptions,
} from "./options.ts";

export interface SubmitRequest {
  manifest: string;
  note: string;
  tags: string[];
  secrets: boolean;
  visibility: "PUBLIC" | "UNLISTED" | "PRIVATE" | undefined;
}

export const DEFAULT_TAGS = ["tack"];

/** The note the Go tack writes when the workflow sets none. */
export function defaultNote(workflow: string, commit: string | undefined, ref?: string): string {
  return `tangled: ${workflow} @ ${commit ? commit.slice(0, 7) : (ref ?? "HEAD")}`;
}

/** Throws when the stored context is not trigger metadata (only a hand-made workflow). */
export function submitRequest(args: {
  workflow: StoredWorkflow;
  options: SourcehutOptions;
  correlationId: string;
  variables: BuildVariables;
  /** The workflow's YAML as the knot sent it ("" when it is no longer known). */
  raw: string;
  dev: boolean;
}): SubmitRequest {
  const { workflow, options } = args;
  const target = buildTarget(workflow.context, args.dev);
  const injected: Record<string, string> = {
    ...contextVariables(workflow.id, target),
    TACK_WORKFLOW_RAW: args.raw,
    // Legacy knot records do not name the pusher; the repo owner is who the trigger names.
    TACK_ACTOR: target.ownerDid,
    ...args.variables,
  };
  return {
    manifest: mergeEnvironment(manifestText(options.manifest), injected, {
      [CORRELATION_VARIABLE]: args.correlationId,
    }),
    note: options.note ?? defaultNote(workflow.id.name, target.commit, target.branch),
    tags: options.tags ?? DEFAULT_TAGS,
    secrets: options.secrets ?? false,
    visibility: options.visibility
      ? (options.visibility.toUpperCase() as SubmitRequest["visibility"])
      : undefined,
  };
}

/**
 * The manifest with `defaults` added to its environment where the author set no value of
 * that name, and `forced` added regardless (checkOptions already refused a manifest that sets
 * them). Throws when the manifest is not a mapping.
 */
export function mergeEnvironment(
  manifest: string,
  defaults: Record<string, string>,
  forced: Record<string, string> = {},
): string {
  const document = parseManifest(manifest);
  const own = isMapping(document.environment) ? document.environment : {};
  const added: Record<string, string> = {};
  for (const [key, value] of Object.entries(defaults)) if (!(key in own)) added[key] = value;
  Object.assign(added, forced);
  const expected = { ...document, environment: { ...added, ...own, ...forced } };
  if (Object.keys(added).length === 0) return manifest;

  const edited = insertLines(manifest, added);
  if (edited !== undefined && means(edited, expected)) return edited;
  // A shape the line edit cannot handle: the same document as JSON (valid YAML).
  return `${JSON.stringify(expected, null, 2)}\n`;
}

/** The manifest text with `added` written into its environment block, or undefined. */
function insertLines(manifest: string, added: Record<string, string>): string | undefined {
  const newline = manifest.includes("\r\n") ? "\r\n" : "\n";
  const lines = manifest.split(/\r?\n/);
  const keyLine = lines.findIndex((line) => /^environment[ \t]*:/.test(line));
  const entries = (indent: string) =>
    Object.entries(added).map(([key, value]) => `${indent}${key}: ${yamlString(value)}`);
  if (keyLine === -1) {
    while (lines.length > 0 && lines.at(-1) === "") lines.pop();
    return [...lines, "environment:", ...entries("  "), ""].join(newline);
  }
  // Only a block mapping (or an empty value) starts with nothing but a comment after the colon.
  if (!/^environment[ \t]*:[ \t]*(?:#.*)?$/.test(lines[keyLine] ?? "")) return undefined;
  const next = lines.slice(keyLine + 1).find((line) => line.trim() !== "" && !/^\s*#/.test(line));
  const indent = next?.match(/^([ \t]+)\S/)?.[1] ?? "  ";
  lines.splice(keyLine + 1, 0, ...entries(indent));
  return lines.join(newline);
}

/** Whether `text` parses to exactly `expected` (key order aside). */
function means(text: string, expected: Record<string, unknown>): boolean {
  try {
    return Bun.deepEquals(Bun.YAML.parse(text), expected);
  } catch {
    return false;
  }
}

/**
 * A double-quoted YAML scalar: JSON's escapes are YAML's, and the characters YAML will not take
 * unescaped (DEL, C1 controls, byte order mark) are escaped too.
 */
export function yamlString(value: string): string {
  return JSON.stringify(value).replace(
    /[\u007f-\u009f\ufeff]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
