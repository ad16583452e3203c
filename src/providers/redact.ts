/**
 * Keeps secrets out of everything a provider writes: logs, published statuses, thrown errors.
 *
 * A Redactor knows the configured secret values (API tokens, webhook secrets) and, for a while,
 * the build variables handed to spawns (a one-time secrets token). It replaces each of them, and
 * anything shaped like a credential (`Authorization: …`, `Bearer …`, well-known token prefixes),
 * with `[redacted]`. Text that comes from outside (a CI's error body) is published only as a
 * bounded `excerpt`: one line, no control characters, redacted, cut to a length.
 */
import type { LogFields, Logger, LogLevel } from "../log.ts";

const MASK = "[redacted]";
/** Shorter values are not secrets worth hunting (and would mangle ordinary words). */
const MIN_SECRET_LENGTH = 6;
/** Transient values (build variables) remembered at most; the oldest are forgotten first. */
const MAX_TRANSIENT = 1_000;

// Token formats of the CIs tack talks to and their neighbours (GitHub, Buildkite, GitLab, Slack).
const TOKEN_PREFIX = /(?:gh[pousr]_|github_pat_|bkua_|glpat-|xox[abp]-)/i;

const CREDENTIAL_SHAPES: RegExp[] = [
  // A header echoed back: "Authorization: Bearer x", "authorization=token x".
  /\b(?:proxy-)?authorization\b\s*[:=]\s*(?:(?:bearer|token|basic)\s+)?[^\s"',;]+/gi,
  /\b(?:bearer|token)\s+[A-Za-z0-9._~+/=-]{8,}/gi,
  new RegExp(`\\b${TOKEN_PREFIX.source}[A-Za-z0-9_-]{16,}`, "gi"),
];

/**
 * A value that may be a credential pasted into the wrong place: a known token prefix, or a long
 * run of letters and digits mixing both. Such a value is never echoed (config errors use this).
 */
export function looksLikeToken(value: string): boolean {
  if (TOKEN_PREFIX.test(value)) return true;
  return /[A-Za-z0-9_\-+/=]{20,}/.test(value) && /[0-9]/.test(value) && /[A-Za-z]/.test(value);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]+/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escapes arrive in CI answers
const ANSI = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b[\]P_^][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b./g;

export class Redactor {
  private readonly fixed = new Set<string>();
  private readonly transient = new Set<string>();
  /** Every known secret as one alternation, longest first; rebuilt after a change. */
  private pattern: RegExp | undefined;
  private stale = true;

  constructor(secrets: Iterable<string | undefined> = []) {
    for (const secret of secrets) {
      if (secret && secret.length >= MIN_SECRET_LENGTH) this.fixed.add(secret);
    }
  }

  /** Remembers a short-lived secret (a build variable's value) among the most recent ones. */
  remember(value: string): void {
    if (value.length < MIN_SECRET_LENGTH || this.fixed.has(value)) return;
    this.transient.delete(value);
    this.transient.add(value);
    if (this.transient.size > MAX_TRANSIENT) {
      const oldest = this.transient.values().next().value;
      if (oldest !== undefined) this.transient.delete(oldest);
    }
    this.stale = true;
  }

  redact(text: string): string {
    const known = this.known();
    let out = known ? text.replace(known, MASK) : text;
    for (const shape of CREDENTIAL_SHAPES) out = out.replace(shape, MASK);
    return out;
  }

  /** A CI's text made publishable: one line, no escapes, redacted, at most `max` characters. */
  excerpt(text: string, max = 200): string {
    const line = this.redact(text.replace(ANSI, "").replace(CONTROL, " "))
      .replace(/\s+/g, " ")
      .trim();
    return line.length > max ? `${line.slice(0, max - 1)}…` : line;
  }

  /**
   * A logger whose message and every text field (and error message) pass through redact.
   * Fields bound by `child` are redacted only once a line is written: hot paths bind a few
   * fields per request and mostly log nothing.
   */
  logger(log: Logger, pending?: LogFields): Logger {
    const fields = (input: LogFields | undefined): LogFields | undefined => {
      if (!input) return input;
      const out: LogFields = {};
      for (const [key, value] of Object.entries(input)) out[key] = this.value(value);
      return out;
    };
    let bound: Logger | undefined;
    const target = () => {
      bound ??= pending ? log.child(fields(pending) ?? {}) : log;
      return bound;
    };
    // Redacting costs a few regular expressions per field: only for lines that are written.
    const line = (level: LogLevel) => (msg: string, extra?: LogFields) => {
      if (log.enabled(level)) target()[level](this.redact(msg), fields(extra));
    };
    return {
      debug: line("debug"),
      info: line("info"),
      warn: line("warn"),
      error: line("error"),
      child: (more) => this.logger(log, { ...pending, ...more }),
      enabled: (level) => log.enabled(level),
    };
  }

  private value(value: unknown): unknown {
    if (typeof value === "string") return this.redact(value);
    if (value instanceof Error) return this.redact(value.message);
    return value;
  }

  private known(): RegExp | undefined {
    if (this.stale) {
      // Longest first, so a secret containing another is masked whole.
      const secrets = [...this.fixed, ...this.transient].sort((a, b) => b.length - a.length);
      this.pattern =
        secrets.length === 0
          ? undefined
          : new RegExp(
              secrets.map((secret) => secret.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"),
              "g",
            );
      this.stale = false;
    }
    return this.pattern;
  }
}
