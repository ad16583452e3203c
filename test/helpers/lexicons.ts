/**
 * Tangled's lexicons (copied into test/fixtures/lexicons) checked with atproto's own lexicon
 * validator, independent of src/: every XRPC answer, parameter set and stream message a test
 * sees can be held against the schema the appview was generated from.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type LexiconDoc, Lexicons } from "@atproto/lexicon";

const DIR = join(import.meta.dir, "..", "fixtures", "lexicons");
const lexicons = new Lexicons();
for (const file of readdirSync(DIR)) {
  lexicons.add(JSON.parse(readFileSync(join(DIR, file), "utf8")) as LexiconDoc);
}

/** Throws when `value` is not a valid output of the XRPC method `nsid`. */
export function assertLexiconOutput(nsid: string, value: unknown): void {
  lexicons.assertValidXrpcOutput(nsid, value);
}

/** Throws when `params` are not valid parameters of `nsid`. */
export function assertLexiconParams(nsid: string, params: Record<string, unknown>): void {
  lexicons.assertValidXrpcParams(nsid, params);
}

/** Throws when `value` (with `$type`) is not a valid message of subscription `nsid`. */
export function assertLexiconMessage(nsid: string, value: unknown): void {
  lexicons.assertValidXrpcMessage(nsid, value);
}

/** Throws when `value` is not a valid record of the record lexicon `nsid`. */
export function assertLexiconRecord(nsid: string, value: unknown): void {
  lexicons.assertValidRecord(nsid, value);
}
