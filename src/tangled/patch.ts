/**
 * The commit a pull request round ends at, read from the round's patch as Tangled stores it: a
 * gzip-compressed `git format-patch` series. Each patch starts with `From <commit> <date>`; the
 * last one is the round's source commit. A patch that is not a format-patch series (a plain
 * diff) names no commit.
 */
import { nodeZlib } from "../lazy-node.ts";

/** Patches are text; anything that inflates past this is refused rather than read. */
export const MAX_PATCH_BYTES = 16 << 20;

export function lastCommitOfPatch(blob: Uint8Array): string | undefined {
  const gzipped = blob[0] === 0x1f && blob[1] === 0x8b;
  const text = (
    gzipped ? nodeZlib().gunzipSync(blob, { maxOutputLength: MAX_PATCH_BYTES }) : Buffer.from(blob)
  ).toString("utf8");
  let last: string | undefined;
  for (const match of text.matchAll(/^From ([0-9a-f]{40}) /gm)) last = match[1];
  return last;
}
