/**
 * What a completion nudge must show to be heeded (webhook.ts).
 *
 * builds.sr.ht signs nothing a manifest's `triggers: - action: webhook` sends, so a nudge proves
 * nothing about a job and tack never believes what it says: a heeded nudge only makes tack
 * poll the job sooner, and the poll (with tack's token) decides. What stands in for a
 * signature is that the nudge names a job tack submitted, by its id and its exact note; a nudge
 * naming a job of tack's with another note is refused (401), and any one nudge costs at most one
 * early poll per job per `nudgeGapMs`, so a stranger cannot spend tack's API budget.
 */
import type { SourcehutJob } from "./builds.ts";
import type { CompletionNudge } from "./schemas.ts";

export type Verdict = { ok: true; job: SourcehutJob } | { ok: false; reason: string };

/** `candidates` are tack's jobs with the nudge's id, one per configured instance at most. */
export function verifyNudge(nudge: CompletionNudge, candidates: SourcehutJob[]): Verdict {
  const job = candidates.find((candidate) => candidate.note === nudge.note);
  if (job) return { ok: true, job };
  return { ok: false, reason: `job #${nudge.id} is tack's, but the nudge carries another note` };
}
