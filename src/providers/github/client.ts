/**
 * The GitHub REST calls tack makes, through the kit's HttpClient (retries, backoff, rate limits,
 * redirects without the token, typed errors, decoding; see ../http-client.ts). What is GitHub's
 * own lives here: the paths, the pinned API version, its rate-limit headers, and the
 * `return_run_details` fallback for servers that refuse the flag.
 *
 * The dispatch is the one request that is not idempotent: the client never sends it twice after
 * an unclear failure (that comes back as an ambiguous ApiError for spawn to resolve by finding
 * the run by its correlation id). A refusal of the flag (400/422) created nothing, so the
 * dispatch is sent once more without it.
 */
import type { Clock } from "../../clock.ts";
import type { Logger } from "../../log.ts";
import {
  ApiError,
  DEFAULT_HTTP_TUNING,
  HttpClient,
  type HttpTuning,
  type RateLimitRules,
} from "../http-client.ts";
import type { Redactor } from "../redact.ts";
import { lapsingSoon } from "../token-expiry.ts";
import {
  type ApiJob,
  ApiJobList,
  ApiRepository,
  ApiRun,
  ApiRunList,
  DispatchDetails,
  RateLimitBody,
} from "./schemas.ts";

/** Stable for years and accepted by GitHub Enterprise Server; newer ones only add breakage. */
export const API_VERSION = "2022-11-28";

/**
 * GitHub's budget: `x-ratelimit-remaining` until `x-ratelimit-reset` (Unix seconds on GitHub's
 * clock, so measured against its `Date`). A 403 or 429 is a rate limit when it carries
 * `retry-after` or an exhausted budget; a 429 without either asks for a minute (GitHub's advice
 * for secondary limits). A plain 403 is a permission problem.
 */
export const GITHUB_RATE_LIMITS: RateLimitRules = {
  budget(headers, now) {
    const remaining = headers.get("x-ratelimit-remaining");
    if (remaining === null || !/^\d+$/.test(remaining)) return undefined;
    return { remaining: Number(remaining), resetAt: now + untilReset(headers) };
  },
  waitFor(response) {
    if (response.status !== 403 && response.status !== 429) return undefined;
    const retryAfter = response.headers.get("retry-after");
    if (retryAfter !== null && /^\d+$/.test(retryAfter)) return Number(retryAfter) * 1000;
    if (response.headers.get("x-ratelimit-remaining") === "0") {
      return untilReset(response.headers) + 250;
    }
    return response.status === 429 ? 60_000 : undefined;
  },
};

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
  /** When the token stops working (`github-authentication-token-expiration`), if it expires. */
  expiresAt: number | undefined;
}

/** The client for a configured token and API; `signal` ends its waits at shutdown. */
export function createGithubClient(
  config: { token: string; apiUrl: string },
  deps: {
    fetch: typeof fetch;
    clock: Clock;
    redactor: Redactor;
    signal?: AbortSignal;
    /** Told (at most daily) when GitHub says the token lapses within a week. */
    log?: Logger;
  },
  tuning: HttpTuning = DEFAULT_HTTP_TUNING,
): GithubClient {
  const expiry = deps.log ? expiryWarner(deps.log, deps.clock) : undefined;
  const http = new HttpClient(
    {
      name: "GitHub",
      baseUrl: config.apiUrl,
      headers: {
        accept: "application/vnd.github+json",
        "x-github-api-version": API_VERSION,
        authorization: `Bearer ${config.token}`,
      },
      rateLimit: GITHUB_RATE_LIMITS,
      hints: {
        401: "check TACK_GITHUB_TOKEN",
        403: "the token needs Actions read and write and Contents read on the runner repository",
      },
      observe: expiry,
    },
    deps,
    tuning,
  );
  return new GithubClient(http);
}

export class GithubClient {
  /** Set once the API refused `return_run_details` (GitHub Enterprise Server before 3.21). */
  private runDetailsUnsupported = false;
  private readonly defaultBranches = new Map<string, string>();

  constructor(private readonly http: HttpClient) {}

  /** The budget as GitHub last reported it, for pacing background polls. */
  budget() {
    return this.http.budget();
  }

  lowOnBudget(reserve: number): boolean {
    return this.http.lowOnBudget(reserve);
  }

  /** The runner repository's default branch (dispatch needs a ref); cached per process. */
  async defaultBranch(repo: string): Promise<string> {
    const cached = this.defaultBranches.get(repo);
    if (cached) return cached;
    const body = await this.http.json({ method: "GET", path: `/repos/${repo}` }, ApiRepository);
    this.defaultBranches.set(repo, body.default_branch);
    return body.default_branch;
  }

  /** Creates a workflow_dispatch event, asking for the run's details where GitHub has them. */
  async dispatch(
    repo: string,
    workflow: string,
    request: { ref: string; inputs: Record<string, string> },
  ): Promise<DispatchResult> {
    const path = `/repos/${repo}/actions/workflows/${encodeURIComponent(workflow)}/dispatches`;
    if (!this.runDetailsUnsupported) {
      try {
        const response = await this.http.request({
          method: "POST",
          path,
          body: { ...request, return_run_details: true },
        });
        if (response.status !== 200) {
          await response.body?.cancel();
          return {};
        }
        const details = await this.http.decode({ method: "POST", path }, response, DispatchDetails);
        return { runId: details.workflow_run_id, htmlUrl: details.html_url };
      } catch (error) {
        if (!(error instanceof ApiError) || (error.status !== 400 && error.status !== 422)) {
          throw error;
        }
        // Refused before anything ran: either the flag (old GHES) or the request itself. The
        // second try, without the flag, tells which.
      }
    }
    const response = await this.http.request({ method: "POST", path, body: request });
    await response.body?.cancel();
    this.runDetailsUnsupported = true;
    return {};
  }

  /** workflow_dispatch runs of `workflow` created at or after `sinceMs` (tack's clock). */
  async dispatchedRuns(repo: string, workflow: string, sinceMs: number): Promise<ApiRun[]> {
    const since = new Date(this.http.serverTime(sinceMs)).toISOString().replace(/\.\d{3}Z$/, "Z");
    const body = await this.http.json(
      {
        method: "GET",
        path: `/repos/${repo}/actions/workflows/${encodeURIComponent(workflow)}/runs`,
        query: { event: "workflow_dispatch", created: `>=${since}`, per_page: "100" },
      },
      ApiRunList,
    );
    return body.workflow_runs;
  }

  getRun(repo: string, runId: number): Promise<ApiRun> {
    return this.http.json({ method: "GET", path: `/repos/${repo}/actions/runs/${runId}` }, ApiRun);
  }

  /** The jobs of the run's latest attempt, in GitHub's order, every page. */
  async listJobs(repo: string, runId: number): Promise<ApiJob[]> {
    const jobs: ApiJob[] = [];
    for (let page = 1; page <= 10; page++) {
      const body = await this.http.json(
        {
          method: "GET",
          path: `/repos/${repo}/actions/runs/${runId}/jobs`,
          query: { filter: "latest", per_page: "100", page: String(page) },
        },
        ApiJobList,
      );
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
    const response = await this.http.request({
      method: "GET",
      path: `/repos/${repo}/actions/jobs/${jobId}/logs`,
      ok: [404, 410],
    });
    if (response.status === 404 || response.status === 410) {
      await response.body?.cancel();
      return undefined;
    }
    return response.text();
  }

  /**
   * Asks GitHub to cancel the run (asynchronous); "finished" when it is already over (409).
   * Cancelling twice is harmless, so this POST may be retried.
   */
  async cancel(repo: string, runId: number): Promise<"requested" | "finished"> {
    const response = await this.http.request({
      method: "POST",
      path: `/repos/${repo}/actions/runs/${runId}/cancel`,
      idempotent: true,
      ok: [409],
    });
    await response.body?.cancel();
    return response.status === 409 ? "finished" : "requested";
  }

  /** Proves the token works (GET /rate_limit is free) and reads a classic token's scopes. */
  async tokenInfo(): Promise<TokenInfo> {
    const request = { method: "GET", path: "/rate_limit" } as const;
    const response = await this.http.request(request);
    const scopes = response.headers.get("x-oauth-scopes");
    const body = await this.http.decode(request, response, RateLimitBody);
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
      expiresAt: tokenExpiry(response.headers.get("github-authentication-token-expiration")),
    };
  }
}

const DAY_MS = 24 * 60 * 60_000;

/**
 * Warns in the log, at most once a day, while GitHub announces that the token lapses within
 * a week (token-expiry.ts): `tack check` says so at deploy time, this says so later on.
 */
function expiryWarner(log: Logger, clock: Clock): (headers: Headers) => void {
  let warnedAt = Number.NEGATIVE_INFINITY;
  return (headers) => {
    const expiresAt = tokenExpiry(headers.get("github-authentication-token-expiration"));
    const now = clock.now();
    if (expiresAt === undefined || !lapsingSoon(expiresAt, now)) return;
    if (now - warnedAt < DAY_MS) return;
    warnedAt = now;
    log.warn("github: TACK_GITHUB_TOKEN expires soon; renew it or every GitHub workflow fails", {
      expires_at: new Date(expiresAt).toISOString(),
    });
  };
}

/**
 * GitHub's token expiry header, "2026-12-31 23:59:59 UTC" (or with a numeric offset such as
 * "-0800"), as Unix ms; undefined when absent or unreadable.
 */
export function tokenExpiry(header: string | null): number | undefined {
  const match = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) (UTC|[+-]\d{2}:?\d{2})$/.exec(
    header?.trim() ?? "",
  );
  if (!match) return undefined;
  const [, date, time, zone = "UTC"] = match;
  const offset = zone === "UTC" ? "Z" : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  const at = Date.parse(`${date}T${time}${offset}`);
  return Number.isNaN(at) ? undefined : at;
}

/** Milliseconds until `x-ratelimit-reset`, measured on GitHub's own clock (its `Date`). */
function untilReset(headers: Headers): number {
  const reset = headers.get("x-ratelimit-reset");
  if (reset === null || !/^\d+$/.test(reset)) return 0;
  const serverNow = Date.parse(headers.get("date") ?? "");
  const now = Number.isNaN(serverNow) ? Date.now() : serverNow;
  return Math.max(0, Number(reset) * 1000 - now);
}
