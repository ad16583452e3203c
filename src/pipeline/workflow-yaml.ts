/**
 * Reads a workflow's `tack:` block: its first key names the provider,
 * its value is that provider's options. `engine:` and everything else is Tangled's business.
 * Any problem comes back as a sentence the workflow's author can act on; it becomes the
 * `error` of a failed status and the workflow's log.
 */
import type { JsonValue } from "../eventlog/canonical-json.ts";

export type TackBlock =
  | { ok: true; provider: string; options: JsonValue }
  | { ok: false; error: string };

/** Knots send whole files; a workflow larger than this is refused rather than parsed. */
const MAX_WORKFLOW_BYTES = 256 * 1024;
const EXAMPLE = 'e.g. "tack: { fake: {} }" or "tack: { buildkite: { pipeline: my-app } }"';

export function readTackBlock(raw: string): TackBlock {
  if (raw.length > MAX_WORKFLOW_BYTES) {
    return { ok: false, error: `workflow file is larger than ${MAX_WORKFLOW_BYTES} bytes` };
  }
  let document: unknown;
  try {
    document = Bun.YAML.parse(raw);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, error: `workflow YAML does not parse: ${reason}` };
  }
  if (!isMapping(document)) return { ok: false, error: "workflow YAML is not a mapping" };
  const tack = document.tack;
  if (tack === undefined || tack === null) {
    return {
      ok: false,
      error: `workflow has no "tack:" block naming the CI to run it, ${EXAMPLE}`,
    };
  }
  if (!isMapping(tack)) {
    return {
      ok: false,
      error: `"tack:" must be a mapping whose first key names the CI, ${EXAMPLE}`,
    };
  }
  const [provider] = Object.keys(tack);
  if (provider === undefined) {
    return { ok: false, error: `"tack:" is empty: name the CI to run this workflow, ${EXAMPLE}` };
  }
  // Round-trip through JSON so options are plain data (no Dates, no undefined) for storage.
  const options = JSON.parse(JSON.stringify(tack[provider] ?? {})) as JsonValue;
  return { ok: true, provider, options };
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
