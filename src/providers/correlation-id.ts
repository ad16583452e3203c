/**
 * The id tack gives each build it asks a CI for, before the CI has one: saved (spawn_attempts
 * and the provider's table) before the request goes out and carried by the build (a GitHub run's
 * title, a GitLab pipeline's name, a sourcehut job's TACK_CORRELATION_ID), so a build whose
 * answer was lost, or a webhook, is tied back to its workflow. The id made here and the id
 * looked for in a CI's text must agree, hence one place for both.
 */
const CORRELATION_ID = /tack-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

export function newCorrelationId(): string {
  return `tack-${crypto.randomUUID()}`;
}

/** The correlation id a run title or pipeline name carries, if any. */
export function correlationIdIn(text: string | null | undefined): string | undefined {
  return text ? CORRELATION_ID.exec(text)?.[0] : undefined;
}
