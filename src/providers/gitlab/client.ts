/**
 * The GitLab REST calls tack makes (API v4), through the kit's HttpClient (retries, backoff,
 * rate limits, typed errors, decoding; see ../http-client.ts). What is GitLab's own lives here:
 * the paths (a project is named by its numeric id or its URL-encoded full path), the
 * `PRIVATE-TOKEN` header, the `RateLimit-*` headers, the validation errors GitLab answers as
 * an object of messages, and reading a growing job trace from an offset.
 *
 * `createPipeline` is the one request that is not idempotent: the client never sends it twice
 * after an unclear failure (that comes back as an ambiguous ApiError for spawn to resolve by
 * finding the pipeline by its correlation id). Cancelling is safe to repeat.
 */
import type { Clock } from "../../clock.ts";
import {
  ApiError,
  type ApiRequest,
  DEFAULT_HTTP_TUNING,
  HttpClient,
  type HttpTuning,
  type RateLimitRules,
} from "../http-client.ts";
import type { Redactor } from "../redact.ts";
import type { CreatePipelineBody } from "./request.ts";
import {
  type ApiJob,
  ApiJobList,
  type ApiPipeline,
  ApiPipelineList,
  ApiPipeline as ApiPipelineSchema,
  ApiProject,
  ApiTokenSelf,
  ApiUser,
} from "./schemas.ts";

/**
 * GitLab's budget: `RateLimit-Remaining` until `RateLimit-Reset` (Unix seconds on GitLab's
 * clock, so measured against its `Date`). A 429 asks to wait for `Retry-After` seconds, else
 * until the reset, else a minute.
 */
export const GITLAB_RATE_LIMITS: RateLimitRules = {
  budget(headers, now) {
    const remaining = headers.get("ratelimit-remaining");
    if (remaining === null || !/^\d+$/.test(remaining)) return undefined;
    return { remaining: Number(remaining), resetAt: now + untilReset(headers) };
  },
  waitFor(response) {
    if (response.status !== 429) return undefined;
    const retryAfter = response.headers.get("retry-after");
    if (retryAfter !== null && /^\d+$/.test(retryAfter)) return Number(retryAfter) * 1000;
    const reset = untilReset(response.headers);
    return reset > 0 ? reset + 250 : 60_000;
  },
};

/** The client for a configured token and instance; `signal` ends its waits at shutdown. */
export function createGitlabClient(
  config: { token: string; apiUrl: string },
  deps: { fetch: typeof fetch; clock: Clock; redactor: Redactor; signal?: AbortSignal },
  tuning: HttpTuning = DEFAULT_HTTP_TUNING,
): GitlabClient {
  const http = new HttpClient(
    {
      name: "GitLab",
      baseUrl: config.apiUrl,
      headers: { "private-token": config.token },
      rateLimit: GITLAB_RATE_LIMITS,
      hints: {
        401: "check TACK_GITLAB_TOKEN (expired or revoked?)",
        403: "the token needs the api scope and at least the Developer role on the runner project",
      },
    },
    deps,
    tuning,
  );
  return new GitlabClient(http, deps.redactor);
}

export class GitlabClient {
  private readonly projects = new Map<string, ApiProject>();

  constructor(
    private readonly http: HttpClient,
    private readonly redactor: Redactor,
  ) {}

  /** The budget as GitLab last reported it, for pacing background polls. */
  budget() {
    return this.http.budget();
  }

  lowOnBudget(reserve: number): boolean {
    return this.http.lowOnBudget(reserve);
  }

  /** A time on tack's clock as GitLab's clock shows it (for `updated_after`). */
  serverTime(ms: number): number {
    return this.http.serverTime(ms);
  }

  /** The project (id, path, default branch, the token's access); cached per process. */
  async project(project: string, options: { fresh?: boolean } = {}): Promise<ApiProject> {
    const cached = options.fresh ? undefined : this.projects.get(project);
    if (cached) return cached;
    const body = await this.http.json({ method: "GET", path: projectPath(project) }, ApiProject);
    this.projects.set(project, body);
    return body;
  }

  /**
   * POST /projects/:id/pipeline. GitLab answers a pipeline it cannot create (unknown ref,
   * undeclared or missing inputs, variables the project forbids) with 400 and its reasons as
   * an object; they become the refusal's words here.
   */
  async createPipeline(project: string, body: CreatePipelineBody): Promise<ApiPipeline> {
    const request: ApiRequest = {
      method: "POST",
      path: `${projectPath(project)}/pipeline`,
      body,
      ok: [400, 422],
    };
    const response = await this.http.request(request);
    if (response.status === 400 || response.status === 422) {
      const said = this.redactor.excerpt(reasonsOf(await response.text()), 300);
      throw new ApiError(
        `GitLab API refused it (HTTP ${response.status}) (POST ${request.path})${said ? `: "${said}"` : ""}`,
        "refused",
        {
          api: "GitLab",
          request: `POST ${request.path}`,
          status: response.status,
          excerpt: said || undefined,
        },
      );
    }
    return this.http.decode(request, response, ApiPipelineSchema);
  }

  /** Pipelines on `ref` updated at or after `sinceMs` (tack's clock), newest first. */
  listPipelines(project: string, ref: string, sinceMs: number): Promise<ApiPipeline[]> {
    const since = new Date(this.http.serverTime(sinceMs)).toISOString().replace(/\.\d{3}Z$/, "Z");
    return this.http.json(
      {
        method: "GET",
        path: `${projectPath(project)}/pipelines`,
        query: {
          ref,
          updated_after: since,
          order_by: "id",
          sort: "desc",
          per_page: "100",
        },
      },
      ApiPipelineList,
    );
  }

  getPipeline(
    project: string,
    pipelineId: number,
    options: { retry?: boolean; timeoutMs?: number } = {},
  ): Promise<ApiPipeline> {
    return this.http.json(
      { method: "GET", path: `${projectPath(project)}/pipelines/${pipelineId}`, ...options },
      ApiPipelineSchema,
    );
  }

  /** The pipeline's jobs (latest attempt of each), every page. */
  async listJobs(
    project: string,
    pipelineId: number,
    options: { retry?: boolean; timeoutMs?: number } = {},
  ): Promise<ApiJob[]> {
    const jobs: ApiJob[] = [];
    for (let page = 1; page <= 10; page++) {
      const body = await this.http.json(
        {
          method: "GET",
          path: `${projectPath(project)}/pipelines/${pipelineId}/jobs`,
          query: { per_page: "100", page: String(page) },
          ...options,
        },
        ApiJobList,
      );
      jobs.push(...body);
      if (body.length < 100) break;
    }
    return jobs;
  }

  /**
   * The bytes of a job's trace from byte `from` on (empty when nothing new, or no trace yet).
   * GitLab serves the whole trace on each read; the request asks for the tail with a Range
   * header, and an answer that ignores it (gitlab.com does) is cut here.
   */
  async jobTrace(
    project: string,
    jobId: number,
    from: number,
    signal?: AbortSignal,
  ): Promise<Uint8Array> {
    const response = await this.http.request({
      method: "GET",
      path: `${projectPath(project)}/jobs/${jobId}/trace`,
      accept: "text/plain",
      headers: from > 0 ? { range: `bytes=${from}-` } : {},
      ok: [404, 416],
      signal,
    });
    if (response.status === 404 || response.status === 416) {
      await response.body?.cancel();
      return new Uint8Array();
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (response.status === 206) {
      const start = Number(/^bytes (\d+)-/.exec(response.headers.get("content-range") ?? "")?.[1]);
      if (start === from) return bytes;
      if (Number.isInteger(start) && start < from) return bytes.subarray(from - start);
      return new Uint8Array();
    }
    return bytes.subarray(Math.min(from, bytes.length));
  }

  /**
   * POST /projects/:id/pipelines/:pipeline_id/cancel. GitLab answers 200 whatever the
   * pipeline's state; cancelling twice is harmless, so it may be retried.
   */
  async cancelPipeline(project: string, pipelineId: number): Promise<"requested" | "gone"> {
    const response = await this.http.request({
      method: "POST",
      path: `${projectPath(project)}/pipelines/${pipelineId}/cancel`,
      idempotent: true,
      ok: [404],
    });
    await response.body?.cancel();
    return response.status === 404 ? "gone" : "requested";
  }

  /** The token's own record (scopes, expiry); undefined on instances older than GitLab 15.5. */
  async tokenSelf(): Promise<ApiTokenSelf | undefined> {
    const request = { method: "GET", path: "/personal_access_tokens/self", ok: [404] } as const;
    const response = await this.http.request(request);
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    return this.http.decode(request, response, ApiTokenSelf);
  }

  /** The token's user (proves the token works where tokenSelf is unknown). */
  user(): Promise<{ id: number; username: string }> {
    return this.http.json({ method: "GET", path: "/user" }, ApiUser);
  }
}

/** "/projects/acme%2Ftangled-runner" or "/projects/4242". */
export function projectPath(project: string): string {
  return `/projects/${encodeURIComponent(project)}`;
}

/**
 * GitLab's reasons in one line: `{"message":{"base":["Reference not found"]}}`,
 * `{"message":"…"}`, `{"error":"…"}`, or the text itself.
 */
function reasonsOf(text: string): string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return text;
  }
  if (typeof body !== "object" || body === null) return text;
  const said = "message" in body ? body.message : "error" in body ? body.error : undefined;
  if (typeof said === "string") return said;
  if (typeof said !== "object" || said === null) return text;
  return Object.entries(said)
    .flatMap(([field, value]) => {
      const messages = (Array.isArray(value) ? value : [value]).map(String);
      return messages.map((message) => (field === "base" ? message : `${field} ${message}`));
    })
    .join("; ");
}

/** Milliseconds until `RateLimit-Reset`, measured on GitLab's own clock (its `Date`). */
function untilReset(headers: Headers): number {
  const reset = headers.get("ratelimit-reset");
  if (reset === null || !/^\d+$/.test(reset)) return 0;
  const serverNow = Date.parse(headers.get("date") ?? "");
  const now = Number.isNaN(serverNow) ? Date.now() : serverNow;
  return Math.max(0, Number(reset) * 1000 - now);
}
