/**
 * The GitHub REST calls tack makes, over the instrumented fetch.
 *
 * Every request carries `Accept: application/vnd.github+json`, a pinned `X-GitHub-Api-Version`
 * and the token as `Authorization: Bearer`. Every answer is validated before use.
 *
 * Retries are bounded: 5xx and network errors back off exponentially; a rate limit (429, or 403
 * with `retry-after` or `x-ratelimit-remaining: 0`) waits as long as GitHub asks, when that is
 * short. A longer wait is not slept through: the client refuses further calls until then (so a
 * poll loop cannot hammer an exhausted budget) and the error says until when.
 *
 * Redirects are followed by hand: to the same origin with the token (a renamed repository), to
 * any other origin without it. Job logs answer 302 to a pre-signed storage URL, which must not
 * receive the token.
 */
import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { sleep } from "./timing.ts";

/** Stable for years and accepted by GitHub Enterprise Server; newer ones only add breakage. */
export const API_VERSION = "2022-11-28";
const USER_AGENT = "tack (Tangled spindle)";
const MAX_REDIRECTS = 3;

export const ApiRun = Type.Object({
  id: Type.Integer(),
  name: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  display_title: Type.Optional(Type.String()),
  status: Type.Union([Type.String(), Type.Null()]),
  conclusion: Type.Union([Type.String(), Type.Null()]),
  html_url: Type.String(),
  run_attempt: Type.Optional(Type.Integer()),
  created_at: Type.Optional(Type.String()),
});
export type ApiRun = Static<typeof ApiRun>;

const ApiRunList = Type.Object({
  total_count: Type.Integer(),
  workflow_runs: Type.Array(ApiRun),
});

export const ApiStep = Type.Object({
  name: Type.String(),
  status: Type.String(),
  conclusion: Type.Union([Type.String(), Type.Null()]),
  number: Type.Integer(),
  started_at: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  completed_at: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});
export type ApiStep = Static<typeof ApiStep>;

export const ApiJob = Type.Object({
  id: Type.Integer(),
  run_id: Type.Integer(),
  name: Type.String(),
  status: Type.String(),
  conclusion: Type.Union([Type.String(), Type.Null()]),
  started_at: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  completed_at: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  html_url: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  steps: Type.Optional(Type.Array(ApiStep)),
});
export type ApiJob = Static<typeof ApiJob>;

const ApiJobList = Type.Object({ total_count: Type.Integer(), jobs: Type.Array(ApiJob) });

const DispatchDetails = Type.Object({
  workflow_run_id: Type.Integer(),
  run_url: Type.Optional(Type.String()),
  html_url: Type.Optional(Type.String()),
});

const ApiRepository = Type.Object({ default_branch: Type.String({ minLength: 1 }) });
const ApiErrorBody = Type.Object({ message: Type.String() });
const RateLimitBody = Type.Object({
  resources: Type.Object({
    core: Type.Object({ limit: Type.Integer(), remaining: Type.Integer(), reset: Type.Integer() }),
  }),
});

export interface RetryPolicy {
  /** Tries per request, the first included. */
  attempts: number;
  /** First backoff after a 5xx or network error; doubles each time. */
  baseDelayMs: number;
  /** Longest rate-limit wait slept through; a longer one fails the call instead. */
  maxWaitMs: number;
  /** Per request: a GitHub that stops answering fails the attempt instead of hanging spawn. */
  timeoutMs?: number;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export class GithubApiError extends Error {
  constructor(
    message: string,
    /** The HTTP status, or undefined when GitHub could not be reached. */
    readonly status: number | undefined,
    /** Unix ms until which GitHub asked us to wait, when that is why the call failed. */
    readonly rateLimitedUntil?: number,
  ) {
    super(message);
  }
}

export interface DispatchResult {
  /** Present when GitHub returned the run's details (return_run_details). */
  runId?: number;
  htmlUrl?: string;
}

export interface TokenInfo {
  /** The classic token's scopes (`x-oauth-scopes`); undefined for fine-grained and app tokens. */
  scopes: string[] | undefined;
  limit: number;
  remaining: number;
}

interface Send {
  query?: Record<string, string>;
  body?: unknown;
}

export class GithubClient {
  private blockedUntil = 0;
  private remaining: number | undefined;
  private resetAt: number | undefined;
  /** Set once the API refused `return_run_details` (GitHub Enterprise Server before 3.21). */
  private runDetailsUnsupported = false;
  private readonly defaultBranches = new Map<string, string>();

  constructor(
    private readonly config: { token: string; apiUrl: string },
    private readonly fetchFn: typeof fetch,
    private readonly retry: RetryPolicy,
    private readonly now: () => number,
    private readonly signal: AbortSignal,
  ) {}

  /** The primary rate-limit budget as GitHub last reported it, for pacing background polls. */
  budget(): { remaining: number | undefined; resetAt: number | undefined; blockedUntil: number } {
    return { remaining: this.remaining, resetAt: this.resetAt, blockedUntil: this.blockedUntil };
  }

  /** The runner repository's default branch (dispatch needs a ref); cached per process. */
  async defaultBranch(repo: string): Promise<string> {
    const cached = this.defaultBranches.get(repo);
    if (cached) return cached;
    const body = await this.json("GET", `/repos/${repo}`, ApiRepository);
    this.defaultBranches.set(repo, body.default_branch);
    return body.default_branch;
  }

  /**
   * Creates a workflow_dispatch event, asking for the run's details. An API that refuses the
   * flag (400/422: no run was created) is asked again without it, once, and then never again.
   */
  async dispatch(
    repo: string,
    workflow: string,
    request: { ref: string; inputs: Record<string, string> },
  ): Promise<DispatchResult> {
    const path = `/repos/${repo}/actions/workflows/${encodeURIComponent(workflow)}/dispatches`;
    if (!this.runDetailsUnsupported) {
      const response = await this.send("POST", path, {
        body: { ...request, return_run_details: true },
      });
      if (response.status === 200) {
        const details = await this.parse(response, DispatchDetails, "POST", path);
        return { runId: details.workflow_run_id, htmlUrl: details.html_url };
      }
      if (response.status === 204) return {};
      if (response.status !== 400 && response.status !== 422) {
        throw await this.failure("POST", path, response);
      }
      await response.body?.cancel();
    }
    const response = await this.send("POST", path, { body: request });
    if (response.status === 204 || response.status === 200) {
      await response.body?.cancel();
      this.runDetailsUnsupported = true;
      return {};
    }
    throw await this.failure("POST", path, response);
  }

  /** workflow_dispatch runs of `workflow` created at or after `sinceMs`, newest first. */
  async dispatchedRuns(repo: string, workflow: string, sinceMs: number): Promise<ApiRun[]> {
    const since = new Date(sinceMs).toISOString().replace(/\.\d{3}Z$/, "Z");
    const body = await this.json(
      "GET",
      `/repos/${repo}/actions/workflows/${encodeURIComponent(workflow)}/runs`,
      ApiRunList,
      { query: { event: "workflow_dispatch", created: `>=${since}`, per_page: "100" } },
    );
    return body.workflow_runs;
  }

  getRun(repo: string, runId: number): Promise<ApiRun> {
    return this.json("GET", `/repos/${repo}/actions/runs/${runId}`, ApiRun);
  }

  /** The jobs of the run's latest attempt, in GitHub's order, every page. */
  async listJobs(repo: string, runId: number): Promise<ApiJob[]> {
    const jobs: ApiJob[] = [];
    for (let page = 1; page <= 10; page++) {
      const body = await this.json("GET", `/repos/${repo}/actions/runs/${runId}/jobs`, ApiJobList, {
        query: { filter: "latest", per_page: "100", page: String(page) },
      });
      jobs.push(...body.jobs);
      if (body.jobs.length < 100 || jobs.length >= body.total_count) break;
    }
    return jobs;
  }

  /**
   * A job's plain-text log, or undefined when GitHub has none (yet, or any more: 404/410).
   * The API answers with a redirect to short-lived storage, followed without the token.
   */
  async jobLog(repo: string, jobId: number): Promise<string | undefined> {
    const path = `/repos/${repo}/actions/jobs/${jobId}/logs`;
    const response = await this.send("GET", path);
    if (response.status === 404 || response.status === 410) {
      await response.body?.cancel();
      return undefined;
    }
    if (!response.ok) throw await this.failure("GET", path, response);
    return response.text();
  }

  /** Asks GitHub to cancel the run (asynchronous); "finished" when it is already over (409). */
  async cancel(repo: string, runId: number): Promise<"requested" | "finished"> {
    const path = `/repos/${repo}/actions/runs/${runId}/cancel`;
    const response = await this.send("POST", path);
    await response.body?.cancel();
    if (response.status === 202 || response.status === 204) return "requested";
    if (response.status === 409) return "finished";
    throw await this.failure("POST", path, response);
  }

  /** Proves the token works (GET /rate_limit is free) and reads a classic token's scopes. */
  async tokenInfo(): Promise<TokenInfo> {
    const response = await this.send("GET", "/rate_limit");
    if (!response.ok) throw await this.failure("GET", "/rate_limit", response);
    const scopes = response.headers.get("x-oauth-scopes");
    const body = await this.parse(response, RateLimitBody, "GET", "/rate_limit");
    return {
      scopes:
        scopes === null
          ? undefined
          : scopes
              .split(",")
              .map((scope) => scope.trim())
              .filter(Boolean),
      limit: body.resources.core.limit,
      remaining: body.resources.core.remaining,
    };
  }

  private async json<T extends TSchema>(
    method: string,
    path: string,
    schema: T,
    options: Send = {},
  ): Promise<Static<T>> {
    const response = await this.send(method, path, options);
    if (!response.ok) throw await this.failure(method, path, response);
    return this.parse(response, schema, method, path);
  }

  private async parse<T extends TSchema>(
    response: Response,
    schema: T,
    method: string,
    path: string,
  ): Promise<Static<T>> {
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      throw new GithubApiError(`github: ${method} ${path} answered invalid JSON`, response.status);
    }
    if (Value.Check(schema, body)) return body;
    const error = Value.Errors(schema, body).First();
    throw new GithubApiError(
      `github: ${method} ${path} answered an unexpected body (${error ? `${error.path || "/"}: ${error.message}` : "invalid"})`,
      response.status,
    );
  }

  /** The request with retries and redirects handled; any final status is the caller's. */
  private async send(method: string, path: string, options: Send = {}): Promise<Response> {
    const url = new URL(`${this.config.apiUrl}${path}`);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      url.searchParams.set(key, value);
    }
    for (let attempt = 1; ; attempt++) {
      if (this.now() < this.blockedUntil) {
        throw new GithubApiError(
          `github: rate limited until ${new Date(this.blockedUntil).toISOString()}`,
          undefined,
          this.blockedUntil,
        );
      }
      let response: Response;
      try {
        response = await this.follow(method, url, options.body);
      } catch (error) {
        if (this.signal.aborted || attempt >= this.retry.attempts) {
          const reason = error instanceof Error ? error.message : String(error);
          throw new GithubApiError(`github: ${method} ${path} failed: ${reason}`, undefined);
        }
        await sleep(this.retry.baseDelayMs * 2 ** (attempt - 1), this.signal);
        continue;
      }
      this.noteBudget(response.headers);
      const wait = this.retryDelay(response, attempt);
      if (wait === undefined) return response;
      if (wait > this.retry.maxWaitMs) {
        this.blockedUntil = Math.max(this.blockedUntil, this.now() + wait);
        await response.body?.cancel();
        throw new GithubApiError(
          `github: ${method} ${path} rate limited (${response.status}) until ${new Date(this.blockedUntil).toISOString()}`,
          response.status,
          this.blockedUntil,
        );
      }
      if (attempt >= this.retry.attempts) return response;
      await response.body?.cancel();
      await sleep(wait, this.signal);
    }
  }

  private async follow(method: string, start: URL, body: unknown): Promise<Response> {
    const origin = new URL(this.config.apiUrl).origin;
    let url = start;
    let request = { method, body };
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { "user-agent": USER_AGENT };
      if (url.origin === origin) {
        headers.accept = "application/vnd.github+json";
        headers["x-github-api-version"] = API_VERSION;
        headers.authorization = `Bearer ${this.config.token}`;
      }
      if (request.body !== undefined) headers["content-type"] = "application/json";
      const response = await this.fetchFn(url, {
        method: request.method,
        headers,
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
        redirect: "manual",
        signal: AbortSignal.any([
          this.signal,
          AbortSignal.timeout(this.retry.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS),
        ]),
      });
      const location = response.headers.get("location");
      const redirected = [301, 302, 303, 307, 308].includes(response.status);
      if (!redirected || location === null || hop >= MAX_REDIRECTS) return response;
      await response.body?.cancel();
      url = new URL(location, url);
      // 307/308 repeat the request as it was; the others turn it into a plain GET.
      if (response.status !== 307 && response.status !== 308) {
        request = { method: "GET", body: undefined };
      }
    }
  }

  /** How long to wait before trying again, or undefined when the answer is final. */
  private retryDelay(response: Response, attempt: number): number | undefined {
    if (response.status >= 500) return this.retry.baseDelayMs * 2 ** (attempt - 1);
    if (response.status !== 403 && response.status !== 429) return undefined;
    const retryAfter = response.headers.get("retry-after");
    if (retryAfter !== null && /^\d+$/.test(retryAfter)) return Number(retryAfter) * 1000;
    const reset = response.headers.get("x-ratelimit-reset");
    if (response.headers.get("x-ratelimit-remaining") === "0" && reset !== null) {
      return Math.max(0, Number(reset) * 1000 - this.now()) + 250;
    }
    // A secondary limit without headers: GitHub says to wait at least a minute.
    if (response.status === 429) return 60_000;
    // A plain 403 is a permission problem, not a limit.
    return undefined;
  }

  private noteBudget(headers: Headers): void {
    const remaining = headers.get("x-ratelimit-remaining");
    const reset = headers.get("x-ratelimit-reset");
    if (remaining !== null && /^\d+$/.test(remaining)) this.remaining = Number(remaining);
    if (reset !== null && /^\d+$/.test(reset)) this.resetAt = Number(reset) * 1000;
  }

  private async failure(method: string, path: string, response: Response): Promise<GithubApiError> {
    let detail = "";
    try {
      const body: unknown = await response.json();
      if (Value.Check(ApiErrorBody, body)) detail = `: ${body.message.slice(0, 300)}`;
    } catch {
      // Not JSON: the status alone has to do.
    }
    return new GithubApiError(
      `github: ${method} ${path} answered ${response.status}${detail}`,
      response.status,
    );
  }
}
