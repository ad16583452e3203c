/**
 * The Buildkite REST calls tack makes, through the kit's HttpClient (retries, backoff, rate
 * limits, typed errors, decoding; see ../http-client.ts). What is Buildkite's own lives here: the
 * paths, the `RateLimit-*` headers, and the suffix-Range reads of a growing job log.
 *
 * `createBuild` is the one request that is not idempotent: the client never sends it twice,
 * and an unclear failure comes back as an ambiguous ApiError for spawn to resolve by looking
 * the build up by its meta_data.
 */
import type { Clock } from "../../clock.ts";
import {
  DEFAULT_HTTP_TUNING,
  HttpClient,
  type HttpTuning,
  type RateLimitRules,
} from "../http-client.ts";
import type { Redactor } from "../redact.ts";
import { BuildkiteAccessToken, BuildkiteBuild, BuildkiteBuildList } from "./schemas.ts";

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
  pull_request_repository?: string;
}

/**
 * Buildkite's two limits (organization and user) must both pass, so the tighter one counts;
 * `RateLimit-Reset` is in seconds from now. A 429 asks to wait for that reset.
 */
export const BUILDKITE_RATE_LIMITS: RateLimitRules = {
  budget(headers, now) {
    const remaining = numbers(headers, "ratelimit-remaining", "ratelimit-user-remaining");
    if (remaining.length === 0) return undefined;
    return { remaining: Math.min(...remaining), resetAt: now + resetMs(headers) };
  },
  waitFor(response) {
    if (response.status !== 429) return undefined;
    return resetMs(response.headers) || 1_000;
  },
};

/** The client for a configured token and API; `signal` ends its waits at shutdown. */
export function createBuildkiteClient(
  config: { token: string; apiUrl: string },
  deps: { fetch: typeof fetch; clock: Clock; redactor: Redactor; signal?: AbortSignal },
  tuning: HttpTuning = DEFAULT_HTTP_TUNING,
): BuildkiteClient {
  const http = new HttpClient(
    {
      name: "Buildkite",
      baseUrl: config.apiUrl,
      headers: { authorization: `Bearer ${config.token}` },
      rateLimit: BUILDKITE_RATE_LIMITS,
      hints: {
        401: "check TACK_BUILDKITE_TOKEN",
        403: "the token lacks a scope or this organization; `tack check` names what is missing",
      },
    },
    deps,
    tuning,
  );
  return new BuildkiteClient(http);
}

export class BuildkiteClient {
  constructor(private readonly http: HttpClient) {}

  createBuild(org: string, pipeline: string, body: CreateBuildBody): Promise<BuildkiteBuild> {
    return this.http.json(
      { method: "POST", path: `${pipelinePath(org, pipeline)}/builds`, body },
      BuildkiteBuild,
    );
  }

  getBuild(
    at: BuildLocation,
    options: { retry?: boolean; signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<BuildkiteBuild> {
    return this.http.json(
      { method: "GET", path: buildPath(at), query: { exclude_pipeline: "true" }, ...options },
      BuildkiteBuild,
    );
  }

  /** Builds of a pipeline carrying all of `metaData`, newest first. */
  findBuilds(
    org: string,
    pipeline: string,
    metaData: Record<string, string>,
  ): Promise<BuildkiteBuild[]> {
    const query: Record<string, string> = { exclude_pipeline: "true", per_page: "10" };
    for (const [key, value] of Object.entries(metaData)) query[`meta_data[${key}]`] = value;
    return this.http.json(
      { method: "GET", path: `${pipelinePath(org, pipeline)}/builds`, query },
      BuildkiteBuildList,
    );
  }

  cancelBuild(at: BuildLocation): Promise<BuildkiteBuild> {
    return this.http.json({ method: "PUT", path: `${buildPath(at)}/cancel` }, BuildkiteBuild);
  }

  /**
   * The bytes of a job's log from `from` on. From 0 the whole log is read; after that only the
   * new tail: HEAD gives the size, a suffix Range fetches the difference. The log may grow
   * between the two requests, so the Content-Range of the answer says where the bytes really
   * start and the request is widened if it started too late.
   */
  async jobLog(
    at: BuildLocation,
    jobId: string,
    from: number,
    signal?: AbortSignal,
  ): Promise<Uint8Array> {
    const path = `${buildPath(at)}/jobs/${encodeURIComponent(jobId)}/log`;
    const read = { path, accept: "text/plain", signal, ok: [416] } as const;
    if (from === 0) {
      const response = await this.http.request({ method: "GET", ...read });
      if (response.status === 416) return new Uint8Array();
      return new Uint8Array(await response.arrayBuffer());
    }
    const head = await this.http.request({ method: "HEAD", ...read });
    let size = Number(head.headers.get("content-length") ?? "0");
    for (let widen = 0; widen < 3 && size > from; widen++) {
      const response = await this.http.request({
        method: "GET",
        ...read,
        headers: { range: `bytes=-${size - from}` },
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
  accessToken(): Promise<BuildkiteAccessToken> {
    return this.http.json({ method: "GET", path: "/v2/access-token" }, BuildkiteAccessToken);
  }

  /** GET /v2/organizations/{org}: confirms the org slug (needs read_organizations). */
  async organization(org: string): Promise<void> {
    const response = await this.http.request({
      method: "GET",
      path: `/v2/organizations/${encodeURIComponent(org)}`,
    });
    await response.body?.cancel();
  }

  /** True while optional work (polls, live logs) should leave the budget to builds. */
  lowOnBudget(reserve: number): boolean {
    return this.http.lowOnBudget(reserve);
  }
}

function pipelinePath(org: string, pipeline: string): string {
  return `/v2/organizations/${encodeURIComponent(org)}/pipelines/${encodeURIComponent(pipeline)}`;
}

function buildPath(at: BuildLocation): string {
  return `${pipelinePath(at.org, at.pipeline)}/builds/${at.number}`;
}

function numbers(headers: Headers, ...names: string[]): number[] {
  return names
    .map((name) => headers.get(name))
    .filter((value): value is string => value !== null && /^\d+$/.test(value))
    .map(Number);
}

function resetMs(headers: Headers): number {
  const resets = numbers(headers, "ratelimit-reset", "ratelimit-user-reset");
  return resets.length === 0 ? 0 : Math.max(...resets) * 1000;
}

/** "bytes 100-199/200" → { start: 100, total: 200 }. */
function parseContentRange(header: string | null): { start: number; total: number } | undefined {
  const match = header ? /^bytes (\d+)-\d+\/(\d+)$/.exec(header.trim()) : null;
  if (!match) return undefined;
  return { start: Number(match[1]), total: Number(match[2]) };
}
