/**
 * Buildkite's REST API, through the instrumented fetch the provider was
 * given. Every response is checked against its schema before use.
 *
 * Failures: a 4xx throws BuildkiteApiError carrying Buildkite's own message (for a person to
 * read: it becomes a failed status's error). 429 and 5xx are retried a bounded number of times,
 * a 429 after the RateLimit-Reset it announced; network errors count as 5xx. Callers choose
 * how much retrying a call may do: spawn must not retry a create blindly (a 5xx may hide a
 * created build), a webhook must not keep Buildkite waiting.
 *
 * Rate limits are tracked from the RateLimit-* headers of every response, so a request made
 * while the budget is spent waits for the reset, and background work (reconciliation) can see
 * that it should hold back.
 */
import type { Static, TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { Clock } from "../../clock.ts";
import {
  BuildkiteAccessToken,
  BuildkiteBuild,
  BuildkiteBuildList,
  BuildkiteErrorBody,
} from "./schemas.ts";

/** Where a build lives: single-build endpoints take the number, not the UUID. */
export interface BuildLocation {
  org: string;
  pipeline: string;
  number: number;
}

export interface CreateBuildBody {
  commit: string;
  branch: string;
  message: string;
  env: Record<string, string>;
  meta_data: Record<string, string>;
  pull_request_base_branch?: string;
}

/** How much a call may retry: every transient failure, only 429s, or nothing. */
export type RetryPolicy = "transient" | "rate-limit" | "none";

export interface ClientTuning {
  /** Attempts per call, the first included. */
  maxAttempts: number;
  /** First backoff after a 5xx or network error; doubles each attempt. */
  backoffMs: number;
  /** Longest wait for a rate-limit reset; a longer announced reset is cut to this. */
  maxRateLimitWaitMs: number;
  /** Per-request timeout. */
  timeoutMs: number;
}

export const DEFAULT_CLIENT_TUNING: ClientTuning = {
  maxAttempts: 4,
  backoffMs: 1_000,
  maxRateLimitWaitMs: 60_000,
  timeoutMs: 30_000,
};

/** `status` is the HTTP status, or 0 when Buildkite could not be reached at all. */
export class BuildkiteApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "BuildkiteApiError";
  }

  /** A failure worth trying again later (rate limit, Buildkite's fault, or the network). */
  get transient(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

interface RequestOptions {
  body?: unknown;
  accept?: string;
  range?: string;
  retry: RetryPolicy;
  signal?: AbortSignal;
}

export class BuildkiteClient {
  private remaining: number | undefined;
  private resetAt = 0;

  constructor(
    private readonly config: { token: string; apiUrl: string },
    private readonly deps: { fetch: typeof fetch; clock: Clock },
    private readonly tuning: ClientTuning = DEFAULT_CLIENT_TUNING,
  ) {}

  /** POST …/builds. Retries only rate limits: a 5xx may have created the build anyway. */
  async createBuild(org: string, pipeline: string, body: CreateBuildBody): Promise<BuildkiteBuild> {
    const response = await this.request("POST", `${pipelinePath(org, pipeline)}/builds`, {
      body,
      retry: "rate-limit",
    });
    return this.decode(response, BuildkiteBuild, "created build");
  }

  async getBuild(
    at: BuildLocation,
    options: { retry?: RetryPolicy; signal?: AbortSignal } = {},
  ): Promise<BuildkiteBuild> {
    const response = await this.request("GET", `${buildPath(at)}?exclude_pipeline=true`, {
      retry: options.retry ?? "transient",
      signal: options.signal,
    });
    return this.decode(response, BuildkiteBuild, "build");
  }

  /** Builds of a pipeline carrying all of `metaData` (the recovery path after a lost reply). */
  async findBuilds(
    org: string,
    pipeline: string,
    metaData: Record<string, string>,
  ): Promise<BuildkiteBuild[]> {
    const query = new URLSearchParams({ exclude_pipeline: "true", per_page: "10" });
    for (const [key, value] of Object.entries(metaData)) query.set(`meta_data[${key}]`, value);
    const response = await this.request("GET", `${pipelinePath(org, pipeline)}/builds?${query}`, {
      retry: "transient",
    });
    return this.decode(response, BuildkiteBuildList, "build list");
  }

  async cancelBuild(at: BuildLocation): Promise<BuildkiteBuild> {
    const response = await this.request("PUT", `${buildPath(at)}/cancel`, { retry: "transient" });
    return this.decode(response, BuildkiteBuild, "canceled build");
  }

  /**
   * The bytes of a job's log from `from` on. From 0 the whole log is
   * read; after that only the new tail: HEAD gives the size, a suffix Range fetches the
   * difference. The log may grow between the two requests, so the Content-Range of the answer
   * says where the bytes really start and the request is widened if it started too late.
   */
  async jobLog(
    at: BuildLocation,
    jobId: string,
    from: number,
    signal?: AbortSignal,
  ): Promise<Uint8Array> {
    const path = `${buildPath(at)}/jobs/${encodeURIComponent(jobId)}/log`;
    if (from === 0) {
      const response = await this.request("GET", path, {
        accept: "text/plain",
        retry: "transient",
        signal,
      });
      return new Uint8Array(await response.arrayBuffer());
    }
    const head = await this.request("HEAD", path, {
      accept: "text/plain",
      retry: "transient",
      signal,
    });
    let size = Number(head.headers.get("content-length") ?? "0");
    for (let widen = 0; widen < 3 && size > from; widen++) {
      const response = await this.request("GET", path, {
        accept: "text/plain",
        range: `bytes=-${size - from}`,
        retry: "transient",
        signal,
      });
      const bytes = new Uint8Array(await response.arrayBuffer());
      if (response.status === 416) return new Uint8Array();
      const range = parseContentRange(response.headers.get("content-range"));
      const start = response.status === 206 && range ? range.start : 0;
      if (start <= from) return bytes.subarray(from - start);
      size = range?.total ?? size;
    }
    return new Uint8Array();
  }

  /** GET /v2/access-token: the token's scopes (for `tack check`). */
  async accessToken(): Promise<BuildkiteAccessToken> {
    const response = await this.request("GET", "/v2/access-token", { retry: "transient" });
    return this.decode(response, BuildkiteAccessToken, "access token");
  }

  /** GET /v2/organizations/{org}: confirms the org slug (needs read_organizations). */
  async organization(org: string): Promise<void> {
    await this.request("GET", `/v2/organizations/${encodeURIComponent(org)}`, {
      retry: "transient",
    });
  }

  /**
   * True when fewer than `reserve` requests are left in the current rate-limit window, so
   * optional work (reconciliation polls, live log follows) should wait and leave the rest to
   * builds and webhooks.
   */
  lowOnBudget(reserve: number): boolean {
    if (this.remaining === undefined) return false;
    if (this.deps.clock.now() >= this.resetAt) return false;
    return this.remaining < reserve;
  }

  private async request(method: string, path: string, options: RequestOptions): Promise<Response> {
    const attempts = options.retry === "none" ? 1 : this.tuning.maxAttempts;
    for (let attempt = 1; ; attempt++) {
      await this.waitForBudget(options.signal);
      let response: Response;
      try {
        response = await this.deps.fetch(`${this.config.apiUrl}${path}`, {
          method,
          headers: this.headers(options),
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
          signal: requestSignal(this.tuning.timeoutMs, options.signal),
        });
      } catch (error) {
        if (options.signal?.aborted) throw error;
        const reason = error instanceof Error ? error.message : String(error);
        if (options.retry === "transient" && attempt < attempts) {
          await this.backoff(attempt, options.signal);
          continue;
        }
        throw new BuildkiteApiError(`Buildkite API unreachable: ${reason}`, 0, { cause: error });
      }
      this.noteRateLimit(response.headers);
      if (response.ok || response.status === 416) return response;
      if (response.status === 429) {
        const waitMs = this.rateLimitWait(response.headers);
        await response.body?.cancel();
        if (options.retry !== "none" && attempt < attempts) {
          await sleep(this.deps.clock, waitMs, options.signal);
          continue;
        }
        throw new BuildkiteApiError(
          `Buildkite API rate limit exceeded (${method} ${stripQuery(path)}, ${attempt} attempt${attempt === 1 ? "" : "s"})`,
          429,
        );
      }
      if (response.status >= 500) {
        await response.body?.cancel();
        if (options.retry === "transient" && attempt < attempts) {
          await this.backoff(attempt, options.signal);
          continue;
        }
        throw new BuildkiteApiError(
          `Buildkite API answered HTTP ${response.status} (${method} ${stripQuery(path)}, ${attempt} attempt${attempt === 1 ? "" : "s"})`,
          response.status,
        );
      }
      throw new BuildkiteApiError(await errorMessage(response), response.status);
    }
  }

  private headers(options: RequestOptions): Record<string, string> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.config.token}`,
      accept: options.accept ?? "application/json",
      "user-agent": "tack (Tangled spindle)",
    };
    if (options.body !== undefined) headers["content-type"] = "application/json";
    if (options.range) headers.range = options.range;
    return headers;
  }

  private async decode<T extends TSchema>(
    response: Response,
    schema: T,
    what: string,
  ): Promise<Static<T>> {
    let body: unknown;
    try {
      body = await response.json();
    } catch (error) {
      throw new BuildkiteApiError(
        `Buildkite answered a ${what} that is not JSON`,
        response.status,
        {
          cause: error,
        },
      );
    }
    if (Value.Check(schema, body)) return body;
    const first = Value.Errors(schema, body).First();
    throw new BuildkiteApiError(
      `Buildkite answered an unexpected ${what}: ${first ? `${first.path || "/"} ${first.message}` : "invalid"}`,
      response.status,
    );
  }

  /** Both limits (organization and user) must pass, so the tighter one counts. */
  private noteRateLimit(headers: Headers): void {
    const remaining = [headers.get("ratelimit-remaining"), headers.get("ratelimit-user-remaining")]
      .filter((value): value is string => value !== null && /^\d+$/.test(value))
      .map(Number);
    if (remaining.length === 0) return;
    this.remaining = Math.min(...remaining);
    this.resetAt = this.deps.clock.now() + this.resetSeconds(headers) * 1000;
  }

  private resetSeconds(headers: Headers): number {
    const resets = [headers.get("ratelimit-reset"), headers.get("ratelimit-user-reset")]
      .filter((value): value is string => value !== null && /^\d+$/.test(value))
      .map(Number);
    return resets.length === 0 ? 0 : Math.max(...resets);
  }

  private rateLimitWait(headers: Headers): number {
    const seconds = this.resetSeconds(headers);
    const waitMs = seconds > 0 ? seconds * 1000 : this.tuning.backoffMs;
    return Math.min(waitMs, this.tuning.maxRateLimitWaitMs);
  }

  private async waitForBudget(signal: AbortSignal | undefined): Promise<void> {
    if (this.remaining === undefined || this.remaining > 0) return;
    const waitMs = this.resetAt - this.deps.clock.now();
    if (waitMs <= 0) return;
    await sleep(this.deps.clock, Math.min(waitMs, this.tuning.maxRateLimitWaitMs), signal);
    this.remaining = undefined;
  }

  private backoff(attempt: number, signal: AbortSignal | undefined): Promise<void> {
    return sleep(this.deps.clock, this.tuning.backoffMs * 2 ** (attempt - 1), signal);
  }
}

/** Waits on the injected clock; an abort ends the wait early (and the caller checks it). */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (!signal) return clock.sleep(ms);
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener("abort", done);
      resolve();
    };
    signal.addEventListener("abort", done);
    void clock.sleep(ms).then(done);
  });
}

function pipelinePath(org: string, pipeline: string): string {
  return `/v2/organizations/${encodeURIComponent(org)}/pipelines/${encodeURIComponent(pipeline)}`;
}

function buildPath(at: BuildLocation): string {
  return `${pipelinePath(at.org, at.pipeline)}/builds/${at.number}`;
}

function requestSignal(timeoutMs: number, signal: AbortSignal | undefined): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  return signal ? AbortSignal.any([timeout, signal]) : timeout;
}

function stripQuery(path: string): string {
  return path.replace(/\?.*$/, "");
}

/** "bytes 100-199/200" → { start: 100, total: 200 }. */
function parseContentRange(header: string | null): { start: number; total: number } | undefined {
  const match = header ? /^bytes (\d+)-\d+\/(\d+)$/.exec(header.trim()) : null;
  if (!match) return undefined;
  return { start: Number(match[1]), total: Number(match[2]) };
}

/** Buildkite's message, with its field errors when it sent some ("Validation Failed: …"). */
async function errorMessage(response: Response): Promise<string> {
  const fallback = `Buildkite API answered HTTP ${response.status}`;
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    return fallback;
  }
  if (!Value.Check(BuildkiteErrorBody, body)) return fallback;
  const details = (body.errors ?? []).map(describeFieldError).filter((text) => text !== "");
  return details.length > 0 ? `${body.message}: ${details.join("; ")}` : body.message;
}

function describeFieldError(error: unknown): string {
  if (typeof error === "string") return error;
  if (typeof error !== "object" || error === null) return "";
  const field = "field" in error && typeof error.field === "string" ? error.field : "";
  const code = "code" in error && typeof error.code === "string" ? error.code : "";
  const message = "message" in error && typeof error.message === "string" ? error.message : code;
  return [field, message].filter((part) => part !== "").join(" ");
}
