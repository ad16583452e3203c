/**
 * When a CI token's announced expiry deserves the operator's attention: every build on that CI
 * stops the day the token lapses, so within a week `tack check` fails and the service warns.
 * GitHub and GitLab announce it (a header, a field); the rule is the same for both.
 */
export const TOKEN_EXPIRY_WARNING_DAYS = 7;
const DAY_MS = 24 * 60 * 60_000;

/** Whole days from `now` until `expiresAt` (Unix ms); negative once past. */
export function daysUntil(expiresAt: number, now: number): number {
  return Math.floor((expiresAt - now) / DAY_MS);
}

/** Whether a token expiring at `expiresAt` lapses within the warning period. */
export function lapsingSoon(expiresAt: number, now: number): boolean {
  return daysUntil(expiresAt, now) < TOKEN_EXPIRY_WARNING_DAYS;
}
