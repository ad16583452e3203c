/**
 * The builds.sr.ht calls tack makes: GraphQL at `<instance>/query` (Authorization: Bearer, a
 * personal access token) and the authenticated log files under `<instance>/query/log/…`, the
 * path sourcehut serves to API clients (the web pages' log links sit behind an anti-bot proxy).
 * Everything goes through the kit's HttpClient (timeouts, retries only for idempotent requests,
 * ambiguous-create errors, backoff on the injected clock, redaction; see ../http-client.ts).
 *
 * GraphQL answers HTTP 200 even when it refuses: a resolver's refusal is an entry in `errors`
 * (with `data` null, or the failed field null). tack turns those into ApiErrors of kind
 * "refused" in its own words. "Access denied" is sourcehut's answer to a token lacking the
 * grant a field needs (JOBS:RW for submit and cancel, LOGS:RO for logs); it is reported as a
 * 403 so the usual "fix the token" hints apply.
 *
 * Queries are idempotent and retried; `submit` is not (an unclear failure is an ambiguous
 * ApiError for spawn.ts to resolve by finding the job); `cancel` may be repeated harmlessly.
 */
import { type Static, type TSchema, Type } from "@sinclair/typebox";
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
import type { SubmitRequest } from "./request.ts";
import {
  type ApiJob,
  type ApiJobLogs,
  ApiJobLogs as ApiJobLogsSchema,
  ApiJob as ApiJobSchema,
  type ApiJobSummary,
  Cancelled,
  envelope,
  type GraphqlError,
  JobManifest,
  JobsPage,
  Submitted,
  Version,
} from "./schemas.ts";

/** sourcehut announces no budget; a 429 asks to wait (Retry-After, else a minute). */
export const SOURCEHUT_RATE_LIMITS: RateLimitRules = {
  budget: () => undefined,
  waitFor(response) {
    if (response.status !== 429) return undefined;
    const retryAfter = response.headers.get("retry-after");
    return retryAfter !== null && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : 60_000;
  },
};

export const TOKEN_HINT =
  "TACK_SOURCEHUT_TOKEN needs builds.sr.ht/JOBS:RW and builds.sr.ht/LOGS:RO (a personal access token from meta.sr.ht)";

const JOB_FIELDS = "id status runner tasks { name status }";

const QUERIES = {
  logs: "query logs($id: Int!) { job(id: $id) { id status runner log { fullURL } tasks { name status log { fullURL } } } }",
  jobs: "query jobs($cursor: Cursor) { jobs(cursor: $cursor) { results { id created status note tags } cursor } }",
  manifest: "query manifest($id: Int!) { job(id: $id) { id manifest } }",
  cancel: "mutation cancel($id: Int!) { cancel(jobId: $id) { id status } }",
  version: "query version { version { major minor patch } }",
  jobsGrant: "query jobsGrant { jobs { cursor } }",
  jobsWriteGrant: "mutation jobsWriteGrant { cancel(jobId: 0) { id } }",
  logsGrant: "query logsGrant { jobs { results { id log { fullURL } } } }",
  secretsGrant: "query secretsGrant { secrets { cursor } }",
};

/** The answer of one GraphQL operation: its data (possibly partial) and its errors. */
export interface Answer<T> {
  data: T | null;
  errors: GraphqlError[];
}

export type LogChunk =
  /** The file does not exist yet (the job or task has not started). */
  | { kind: "absent" }
  /** Bytes from the requested offset (none: nothing new). `total` when sourcehut said it. */
  | { kind: "bytes"; bytes: Uint8Array; total: number | undefined };

export function createSourcehutClient(
  config: { token: string; instance: string },
  deps: { fetch: typeof fetch; clock: Clock; redactor: Redactor; signal?: AbortSignal },
  tuning: HttpTuning = DEFAULT_HTTP_TUNING,
): SourcehutClient {
  const http = new HttpClient(
    {
      name: "sourcehut",
      baseUrl: config.instance,
      headers: { authorization: `Bearer ${config.token}` },
      rateLimit: SOURCEHUT_RATE_LIMITS,
      hints: {
        401: "check TACK_SOURCEHUT_TOKEN",
        403: `the token was refused (expired or revoked?); ${TOKEN_HINT}`,
      },
    },
    deps,
    tuning,
  );
  return new SourcehutClient(http, config.instance, deps.redactor);
}

export class SourcehutClient {
  constructor(
    private readonly http: HttpClient,
    /** The base URL this client talks to. */
    readonly instance: string,
    private readonly redactor: Redactor,
  ) {}

  /** A time on tack's clock as sourcehut's clock shows it (its `Date` header). */
  serverTime(ms: number): number {
    return this.http.serverTime(ms);
  }

  /** Submits a job (not idempotent: an unclear failure throws an ambiguous ApiError). */
  async submit(request: SubmitRequest): Promise<{ id: number; status: string }> {
    // `visibility` is newer than some deployments' schema: only named when the workflow sets it.
    const withVisibility = request.visibility !== undefined;
    const query = `mutation submit($manifest: String!, $tags: [String!], $note: String, $secrets: Boolean${withVisibility ? ", $visibility: Visibility" : ""}) { submit(manifest: $manifest, tags: $tags, note: $note, secrets: $secrets${withVisibility ? ", visibility: $visibility" : ""}) { id status } }`;
    const variables: Record<string, unknown> = {
      manifest: request.manifest,
      tags: request.tags,
      note: request.note,
      secrets: request.secrets,
    };
    if (withVisibility) variables.visibility = request.visibility;
    const answer = await this.call("submit", query, variables, Submitted, { idempotent: false });
    return this.must("submit", answer).submit;
  }

  /** Each job of `ids`, by id; null for one sourcehut does not show this token (gone, not ours). */
  async jobs(ids: number[], signal?: AbortSignal): Promise<Map<number, ApiJob | null>> {
    const found = new Map<number, ApiJob | null>();
    if (ids.length === 0) return found;
    const declared = ids.map((_, i) => `$j${i}: Int!`).join(", ");
    const fields = ids.map((_, i) => `j${i}: job(id: $j${i}) { ${JOB_FIELDS} }`).join(" ");
    const variables = Object.fromEntries(ids.map((id, i) => [`j${i}`, id]));
    const schema = Type.Record(Type.String(), Type.Union([ApiJobSchema, Type.Null()]));
    const answer = await this.call(
      "poll",
      `query poll(${declared}) { ${fields} }`,
      variables,
      schema,
      {
        idempotent: true,
        signal,
      },
    );
    const data = this.must("poll", answer);
    ids.forEach((id, i) => {
      found.set(id, data[`j${i}`] ?? null);
    });
    return found;
  }

  /**
   * The job with where its logs are. `errors` keeps field-level refusals (a token without
   * LOGS:RO gets the job with `log` null and an "Access denied" error at that path).
   */
  async jobLogs(id: number, signal?: AbortSignal): Promise<Answer<{ job: ApiJobLogs | null }>> {
    const schema = Type.Object({ job: Type.Union([ApiJobLogsSchema, Type.Null()]) });
    return this.call("logs", QUERIES.logs, { id }, schema, { idempotent: true, signal });
  }

  /** One page of the token owner's jobs, newest first. */
  async jobsPage(
    cursor: string | null,
  ): Promise<{ results: ApiJobSummary[]; cursor: string | null }> {
    const answer = await this.call("jobs", QUERIES.jobs, { cursor }, JobsPage, {
      idempotent: true,
    });
    return this.must("jobs", answer).jobs;
  }

  /** The manifest a job was submitted with, or undefined when the job is not visible. */
  async manifest(id: number): Promise<string | undefined> {
    const answer = await this.call("manifest", QUERIES.manifest, { id }, JobManifest, {
      idempotent: true,
    });
    return this.must("manifest", answer).job?.manifest;
  }

  /**
   * Asks sourcehut to cancel a job. builds.sr.ht cancels only running jobs; anything else is a
   * refusal ("Found no running jobs …"), which the caller tells apart by looking at the job.
   * Repeating it is harmless, so it is retried like a query.
   */
  async cancel(id: number): Promise<void> {
    const answer = await this.call("cancel", QUERIES.cancel, { id }, Cancelled, {
      idempotent: true,
    });
    this.must("cancel", answer);
  }

  async version(): Promise<{ major: number; minor: number; patch: number }> {
    return this.must(
      "version",
      await this.call("version", QUERIES.version, {}, Version, { idempotent: true }),
    ).version;
  }

  /**
   * Which grants the token carries, each probed with a request that changes nothing; undefined
   * when sourcehut's answer cannot tell (LOGS:RO shows only on an existing job).
   */
  async grants(): Promise<
    Record<"JOBS:RO" | "JOBS:RW" | "LOGS:RO" | "SECRETS:RO", boolean | undefined>
  > {
    const any = Type.Unknown();
    const probe = async (op: keyof typeof QUERIES) =>
      this.call(op, QUERIES[op], {}, any, { idempotent: true });
    const jobs = await probe("jobsGrant");
    // Cancelling job 0 (there is none) is refused by its resolver, unless the grant is missing.
    const write = await probe("jobsWriteGrant");
    const logs = await probe("logsGrant");
    const secrets = await probe("secretsGrant");
    const jobsRead = !accessDenied(jobs.errors);
    const logsAnswer = logs.data as { jobs?: { results?: unknown[] } } | null;
    const anyJob = (logsAnswer?.jobs?.results?.length ?? 0) > 0;
    return {
      "JOBS:RO": jobsRead,
      "JOBS:RW": !accessDenied(write.errors),
      "LOGS:RO": accessDenied(logs.errors, "log") ? false : anyJob ? true : undefined,
      "SECRETS:RO": !accessDenied(secrets.errors),
    };
  }

  /**
   * Bytes of a log file from `offset` on, at most `maxBytes`. `path` is the file's path on
   * this instance (`/query/log/<job>/log` or `/query/log/<job>/<task>/log`).
   */
  async logChunk(
    path: string,
    offset: number,
    maxBytes: number,
    signal?: AbortSignal,
  ): Promise<LogChunk> {
    const response = await this.http.request({
      method: "GET",
      path,
      accept: "text/plain",
      headers: { range: `bytes=${offset}-${offset + maxBytes - 1}` },
      ok: [404, 416],
      signal,
    });
    if (response.status === 404) {
      await response.body?.cancel();
      return { kind: "absent" };
    }
    if (response.status === 416) {
      await response.body?.cancel();
      return { kind: "bytes", bytes: new Uint8Array(), total: totalOf(response.headers) };
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (response.status === 206) return { kind: "bytes", bytes, total: totalOf(response.headers) };
    // A server that ignored the range sent the whole file.
    return {
      kind: "bytes",
      bytes: bytes.subarray(offset, offset + maxBytes),
      total: bytes.length,
    };
  }

  private async call<T extends TSchema>(
    operation: string,
    query: string,
    variables: Record<string, unknown>,
    schema: T,
    options: { idempotent: boolean; signal?: AbortSignal },
  ): Promise<Answer<Static<T>>> {
    const request: ApiRequest = {
      method: "POST",
      path: "/query",
      body: { query, variables },
      idempotent: options.idempotent,
      // gqlgen answers a query it cannot validate with 422 and GraphQL errors in the body.
      ok: [422],
      signal: options.signal,
    };
    const response = await this.http.request(request);
    const body = await this.http.decode(request, response, envelope(schema));
    const errors = body.errors ?? [];
    if (response.status === 422) throw this.refusal(operation, errors);
    if (body.data == null && errors.length === 0) {
      throw new ApiError(
        `sourcehut API answered ${operation} with neither data nor errors (POST /query)`,
        "unexpected",
        { api: "sourcehut", request: `POST /query ${operation}`, status: response.status },
      );
    }
    // A refused nullable field is null in `data`, with its error in `errors`.
    return { data: body.data ?? null, errors };
  }

  /** The data of an answer without errors; throws the refusal otherwise. */
  private must<T>(operation: string, answer: Answer<T>): T {
    if (answer.errors.length > 0 || answer.data === null)
      throw this.refusal(operation, answer.errors);
    return answer.data;
  }

  private refusal(operation: string, errors: GraphqlError[]): ApiError {
    const said = errors.map((error) => error.message).join("; ") || "no reason given";
    const excerpt = this.redactor.excerpt(said);
    const denied = accessDenied(errors);
    const hint = denied ? `: ${TOKEN_HINT}` : "";
    return new ApiError(
      `sourcehut API refused ${operation}${hint} (POST /query): "${excerpt}"`,
      "refused",
      {
        api: "sourcehut",
        request: `POST /query ${operation}`,
        // A missing grant is an authorization refusal, whatever the HTTP status said.
        status: denied ? 403 : undefined,
        excerpt,
      },
    );
  }
}

/** True when sourcehut refused a field for lack of a grant (at a path ending in `field`). */
export function accessDenied(errors: GraphqlError[], field?: string): boolean {
  return errors.some(
    (error) =>
      /access denied/i.test(error.message) && (field === undefined || error.path?.at(-1) === field),
  );
}

/** The total size a `Content-Range` header states (after its "/"). */
function totalOf(headers: Headers): number | undefined {
  const match = /\/(\d+)\s*$/.exec(headers.get("content-range") ?? "");
  return match ? Number(match[1]) : undefined;
}
