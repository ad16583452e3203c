/**
 * The one HTTP client every provider talks to its CI through.
 *
 * - Retries only what is safe to send again: an idempotent request (GET, HEAD, PUT, DELETE, or
 *   one the caller declares so) after a network error, a timeout or a 5xx; any request after a
 *   rate limit or a refused connection, which prove the CI did nothing. A non-idempotent request
 *   (creating a build) that failed unclearly throws an ApiError with `ambiguous` set: the caller
 *   looks the build up by its correlation key before trying again (see spawn-once.ts).
 * - Backs off exponentially with jitter, and waits out rate limits, on the injected clock. A
 *   rate-limit wait longer than `maxRateLimitWaitMs` is not slept through: calls fail fast until
 *   it is over, so a poll loop cannot hammer a spent budget.
 * - Tracks the budget each response announces (per provider, through RateLimitRules), so
 *   optional work (polls, live logs) can hold back with `lowOnBudget`.
 * - Follows redirects by hand, sending the provider's headers (the token) only to the API's own
 *   origin: a log redirect to pre-signed storage must not receive it.
 * - Throws ApiError in tack's own words: what was asked, what happened, a bounded, redacted
 *   excerpt of the CI's answer. Nothing a CI sends reaches a log or a status unfiltered.
 * - Decodes JSON answers against a TypeBox schema before anyone uses them.
 */
import type { Static, TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { Clock } from "../clock.ts";
import { pause } from "./pause.ts";
import type { Redactor } from "./redact.ts";

export interface HttpTuning {
  /** Tries per request, the first included. */
  attempts: number;
  /** First backoff after a retryable failure; doubles per attempt, with jitter. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Longest rate-limit wait slept through; a longer one fails the call (and later ones). */
  maxRateLimitWaitMs: number;
  /** Per attempt, in real time: a CI that stops answering fails the attempt instead of hanging. */
  timeoutMs: number;
}

export const DEFAULT_HTTP_TUNING: HttpTuning = {
  attempts: 4,
  backoffMs: 1_000,
  maxBackoffMs: 30_000,
  maxRateLimitWaitMs: 60_000,
  timeoutMs: 30_000,
};

/** For `tack check`: an operator waiting at a terminal wants an answer, not a long retry. */
export const CHECK_HTTP_TUNING: HttpTuning = {
  ...DEFAULT_HTTP_TUNING,
  attempts: 2,
  backoffMs: 500,
  timeoutMs: 10_000,
};

/** How one CI announces its rate limits. */
export interface RateLimitRules {
  /** The budget a response reports: requests left, and when it refills (ms on tack's clock). */
  budget(headers: Headers, now: number): { remaining: number; resetAt: number } | undefined;
  /** How long a response asks to wait before trying again, or undefined if it is no rate limit. */
  waitFor(response: Response, now: number): number | undefined;
}

export interface ApiTarget {
  /** The CI's name in messages: "Buildkite", "GitHub". */
  name: string;
  baseUrl: string;
  /** Sent with every request to `baseUrl`'s origin (the token, API versions), never elsewhere. */
  headers: Record<string, string>;
  rateLimit: RateLimitRules;
  /** What the operator should fix when the CI refuses with this status (401: the token). */
  hints?: Partial<Record<number, string>>;
  /** Sees the headers of every answer from the CI (e.g. a token's announced expiry). */
  observe?: (headers: Headers) => void;
}

export interface ApiRequest {
  method: "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  accept?: string;
  headers?: Record<string, string>;
  /** Safe to send twice; by default every method but POST and PATCH. */
  idempotent?: boolean;
  /** false: one attempt and no rate-limit wait (a webhook must not keep its CI waiting). */
  retry?: boolean;
  /** Statuses that are answers rather than failures (e.g. 404: no log yet; 416: empty range). */
  ok?: readonly number[];
  /** Per-attempt timeout instead of the tuning's. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export type ApiErrorKind =
  /** No connection, or it broke before an answer. */
  | "unreachable"
  /** No answer within the timeout. */
  | "timeout"
  /** The CI asked us to wait (429, or its own rate-limit answer). */
  | "rate-limited"
  /** A 4xx: the request itself is wrong (token, scope, input). */
  | "refused"
  /** A 5xx: the CI's own failure. */
  | "failed"
  /** An answer tack cannot use (not JSON, not the documented shape). */
  | "unexpected";

export class ApiError extends Error {
  constructor(
    message: string,
    readonly kind: ApiErrorKind,
    readonly details: {
      api: string;
      /** "POST /v2/organizations/acme/pipelines/app/builds" (never a query string). */
      request: string;
      status?: number;
      /** The CI's own words, bounded and redacted. */
      excerpt?: string;
      /** The request may have taken effect although nothing says so (unclear non-idempotent). */
      ambiguous?: boolean;
      /** Unix ms (tack's clock) before which the CI asked not to be called. */
      retryAt?: number;
      cause?: unknown;
    },
  ) {
    super(message, { cause: details.cause });
    this.name = "ApiError";
  }

  get status(): number | undefined {
    return this.details.status;
  }

  get ambiguous(): boolean {
    return this.details.ambiguous === true;
  }

  /** Worth trying again later: the network, the CI's fault, or a rate limit. */
  get transient(): boolean {
    return this.kind !== "refused" && this.kind !== "unexpected";
  }
}

export class HttpClient {
  private remaining: number | undefined;
  private resetAt = 0;
  private blockedUntil = 0;
  /** The CI's clock minus tack's, from the `Date` of its latest answer. */
  private serverOffset = 0;
  private readonly origin: string;

  constructor(
    private readonly target: ApiTarget,
    private readonly deps: {
      fetch: typeof fetch;
      clock: Clock;
      redactor: Redactor;
      /** Aborted at shutdown: ends waits and in-flight requests. */
      signal?: AbortSignal;
    },
    private readonly tuning: HttpTuning = DEFAULT_HTTP_TUNING,
  ) {
    this.origin = new URL(target.baseUrl).origin;
  }

  /** The budget as the CI last announced it (for `tack check` and background pacing). */
  budget(): { remaining: number | undefined; resetAt: number; blockedUntil: number } {
    return { remaining: this.remaining, resetAt: this.resetAt, blockedUntil: this.blockedUntil };
  }

  /** A time on tack's clock as the CI's clock shows it (for filters such as "created since"). */
  serverTime(ms: number): number {
    return ms + this.serverOffset;
  }

  /** True while fewer than `reserve` requests are left in the current window, or none may go. */
  lowOnBudget(reserve: number): boolean {
    const now = this.deps.clock.now();
    if (now < this.blockedUntil) return true;
    if (this.remaining === undefined || now >= this.resetAt) return false;
    return this.remaining < reserve;
  }

  /** The answer as a value of `schema`; anything else is an `unexpected` ApiError. */
  async json<T extends TSchema>(request: ApiRequest, schema: T): Promise<Static<T>> {
    const response = await this.request(request);
    return this.decode(request, response, schema);
  }

  async decode<T extends TSchema>(
    request: ApiRequest,
    response: Response,
    schema: T,
  ): Promise<Static<T>> {
    let body: unknown;
    try {
      body = await response.json();
    } catch (error) {
      throw this.error(request, "unexpected", "answered with a body that is not JSON", {
        status: response.status,
        cause: error,
      });
    }
    if (Value.Check(schema, body)) return body;
    const first = Value.Errors(schema, body).First();
    const where = first ? `${first.path || "/"}: ${first.message}` : "invalid";
    throw this.error(request, "unexpected", `answered with an unexpected body (${where})`, {
      status: response.status,
    });
  }

  /** The final answer: a 2xx or one of `request.ok`; everything else throws ApiError. */
  async request(request: ApiRequest): Promise<Response> {
    const idempotent = idempotentRequest(request);
    const retry = request.retry !== false;
    const attempts = retry ? this.tuning.attempts : 1;
    for (let attempt = 1; ; attempt++) {
      await this.waitForBudget(request, retry);
      let response: Response;
      try {
        response = await this.send(request);
      } catch (error) {
        if (this.aborted(request)) throw error;
        const refused = connectionRefused(error);
        // A refused connection never reached the CI; anything else may have.
        const unclear = !idempotent && !refused;
        if (attempt < attempts && !unclear) {
          await this.backoff(attempt, request);
          continue;
        }
        throw this.networkError(request, error, unclear);
      }
      const now = this.deps.clock.now();
      this.noteBudget(response.headers, now);
      this.target.observe?.(response.headers);
      const date = Date.parse(response.headers.get("date") ?? "");
      if (!Number.isNaN(date)) this.serverOffset = date - now;
      const wait = this.target.rateLimit.waitFor(response, now);
      if (wait !== undefined) {
        await response.body?.cancel();
        if (wait > this.tuning.maxRateLimitWaitMs) this.blockedUntil = now + wait;
        if (attempt < attempts && wait <= this.tuning.maxRateLimitWaitMs) {
          await pause(this.deps.clock, wait, this.signalOf(request));
          continue;
        }
        throw this.rateLimited(request, response.status, now + wait);
      }
      if (response.ok || request.ok?.includes(response.status)) return response;
      if (response.status >= 500) {
        const excerpt = await this.excerptOf(response);
        if (attempt < attempts && idempotent) {
          await this.backoff(attempt, request);
          continue;
        }
        throw this.error(request, "failed", `failed with HTTP ${response.status}`, {
          status: response.status,
          excerpt,
          ambiguous: !idempotent,
        });
      }
      const excerpt = await this.excerptOf(response);
      const hint = this.target.hints?.[response.status];
      throw this.error(
        request,
        "refused",
        `refused it (HTTP ${response.status}${hint ? `: ${hint}` : ""})`,
        { status: response.status, excerpt },
      );
    }
  }

  private async send(request: ApiRequest): Promise<Response> {
    let url = new URL(`${this.target.baseUrl}${request.path}`);
    for (const [key, value] of Object.entries(request.query ?? {}))
      url.searchParams.set(key, value);
    let method: string = request.method;
    let body = request.body === undefined ? undefined : JSON.stringify(request.body);
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = {
        "user-agent": "tack (Tangled spindle)",
        accept: request.accept ?? "application/json",
        ...request.headers,
      };
      if (url.origin === this.origin) Object.assign(headers, this.target.headers);
      if (body !== undefined) headers["content-type"] = "application/json";
      const response = await this.deps.fetch(url, {
        method,
        headers,
        body,
        redirect: "manual",
        signal: this.attemptSignal(request),
      });
      const location = response.headers.get("location");
      if (![301, 302, 303, 307, 308].includes(response.status) || !location || hop >= 3) {
        return response;
      }
      await response.body?.cancel();
      url = new URL(location, url);
      // 307 and 308 repeat the request as it was; the others become a plain GET.
      if (response.status !== 307 && response.status !== 308) {
        method = "GET";
        body = undefined;
      }
    }
  }

  private attemptSignal(request: ApiRequest): AbortSignal {
    const timeout = AbortSignal.timeout(request.timeoutMs ?? this.tuning.timeoutMs);
    const other = this.signalOf(request);
    return other ? AbortSignal.any([timeout, other]) : timeout;
  }

  /**
   * What ends a request or its waits early: the caller's signal, and shutdown, except for a
   * non-idempotent request: tack never abandons a create half-way itself (the CI may have
   * acted), so a stop leaves it to finish or to the next start's recovery.
   */
  private signalOf(request: ApiRequest): AbortSignal | undefined {
    const lifetime = idempotentRequest(request) ? this.deps.signal : undefined;
    const signals = [request.signal, lifetime].filter(
      (signal): signal is AbortSignal => signal !== undefined,
    );
    return signals.length === 0 ? undefined : AbortSignal.any(signals);
  }

  private aborted(request: ApiRequest): boolean {
    return this.signalOf(request)?.aborted === true;
  }

  private async waitForBudget(request: ApiRequest, retry: boolean): Promise<void> {
    const now = this.deps.clock.now();
    const until = Math.max(
      this.blockedUntil,
      this.remaining === 0 && now < this.resetAt ? this.resetAt : 0,
    );
    if (until <= now) return;
    if (!retry || until - now > this.tuning.maxRateLimitWaitMs) {
      throw this.rateLimited(request, undefined, until);
    }
    await pause(this.deps.clock, until - now, this.signalOf(request));
    this.remaining = undefined;
  }

  private noteBudget(headers: Headers, now: number): void {
    const budget = this.target.rateLimit.budget(headers, now);
    if (!budget) return;
    this.remaining = budget.remaining;
    this.resetAt = budget.resetAt;
  }

  private backoff(attempt: number, request: ApiRequest): Promise<void> {
    const base = Math.min(this.tuning.maxBackoffMs, this.tuning.backoffMs * 2 ** (attempt - 1));
    // Equal jitter: never less than half the base, so retries from many workflows spread out.
    const delay = base / 2 + (Math.random() * base) / 2;
    return pause(this.deps.clock, delay, this.signalOf(request));
  }

  private async excerptOf(response: Response): Promise<string | undefined> {
    let text: string;
    try {
      text = await response.text();
    } catch {
      return undefined;
    }
    const said = messageOf(text);
    return said === "" ? undefined : this.deps.redactor.excerpt(said);
  }

  private networkError(request: ApiRequest, error: unknown, ambiguous: boolean): ApiError {
    const timedOut = error instanceof Error && error.name === "TimeoutError";
    if (timedOut) {
      const seconds = (request.timeoutMs ?? this.tuning.timeoutMs) / 1000;
      return this.error(request, "timeout", `did not answer within ${seconds} s`, {
        ambiguous,
        cause: error,
      });
    }
    const reason = error instanceof Error ? error.message : String(error);
    return this.error(request, "unreachable", "could not be reached", {
      excerpt: this.deps.redactor.excerpt(reason, 120),
      ambiguous,
      cause: error,
    });
  }

  private rateLimited(request: ApiRequest, status: number | undefined, until: number): ApiError {
    const at = new Date(until).toISOString().replace(/\.\d{3}Z$/, "Z");
    return this.error(request, "rate-limited", `rate limit reached; it asked to wait until ${at}`, {
      status,
      retryAt: until,
    });
  }

  private error(
    request: ApiRequest,
    kind: ApiErrorKind,
    what: string,
    details: Omit<ApiError["details"], "api" | "request">,
  ): ApiError {
    const described = `${request.method} ${request.path.replace(/\?.*$/, "")}`;
    const said = details.excerpt ? `: "${details.excerpt}"` : "";
    return new ApiError(`${this.target.name} API ${what} (${described})${said}`, kind, {
      ...details,
      api: this.target.name,
      request: described,
    });
  }
}

function idempotentRequest(request: ApiRequest): boolean {
  return request.idempotent ?? !["POST", "PATCH"].includes(request.method);
}

/** What a CI's error body says: its `message` (and field `errors`), else the text itself. */
function messageOf(text: string): string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return text;
  }
  if (typeof body !== "object" || body === null || !("message" in body)) return text;
  const message = typeof body.message === "string" ? body.message : "";
  const errors = "errors" in body && Array.isArray(body.errors) ? body.errors : [];
  const details = errors.map(describeFieldError).filter((part) => part !== "");
  return details.length > 0 ? `${message}: ${details.join("; ")}` : message;
}

function describeFieldError(error: unknown): string {
  if (typeof error === "string") return error;
  if (typeof error !== "object" || error === null) return "";
  const field = "field" in error && typeof error.field === "string" ? error.field : "";
  const code = "code" in error && typeof error.code === "string" ? error.code : "";
  const message = "message" in error && typeof error.message === "string" ? error.message : code;
  return [field, message].filter((part) => part !== "").join(" ");
}

function connectionRefused(error: unknown): boolean {
  if (typeof error !== "object" || error === null || !("code" in error)) return false;
  return error.code === "ConnectionRefused" || error.code === "ECONNREFUSED";
}
