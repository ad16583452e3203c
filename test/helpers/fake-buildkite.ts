/**
 * A local stand-in for Buildkite's REST API, written independently of
 * src/. It listens on 127.0.0.1:0, checks what a real API would refuse (the Bearer token, the
 * path, the create-build body), records every call, and answers with realistic build, job and
 * log bodies, including the RateLimit-* headers.
 *
 * Tests drive it: move a build or job to a state, append to a job's log, queue canned answers
 * (422, 429 with RateLimit-Reset, 5xx) for the next matching requests, or hold a create-build
 * answer back to stage a webhook that arrives before tack stored the build.
 */
import scheduledFixture from "../fixtures/buildkite/build.scheduled.json";
import { type HeldAnswer, heldAnswer } from "./held-answer.ts";

export interface FakeJob {
  id: string;
  type: "script" | "waiter" | "manual" | "trigger";
  name: string | null;
  command: string | null;
  state: string;
  exit_status: number | null;
  started_at: string | null;
  finished_at: string | null;
  log: Uint8Array;
}

export interface FakeBuild {
  id: string;
  org: string;
  pipeline: string;
  number: number;
  state: string;
  blocked: boolean;
  cancel_reason: string | null;
  message: string;
  commit: string;
  branch: string;
  env: Record<string, string>;
  meta_data: Record<string, string>;
  pull_request: { id: string | null; base: string; repository: string | null } | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  jobs: FakeJob[];
}

export interface WebhookBody {
  event: string;
  build: Record<string, unknown>;
  pipeline: Record<string, unknown>;
  sender: Record<string, unknown>;
}

export interface RecordedCall {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body: unknown;
}

export interface CannedAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Still perform the request's effect before answering (a 5xx after the build was created). */
  thenPerform?: boolean;
}

interface Canned {
  method: string;
  path: RegExp;
  answer: CannedAnswer;
  times: number;
}

const ORG_PATH = /^\/v2\/organizations\/([^/]+)$/;
const BUILDS_PATH = /^\/v2\/organizations\/([^/]+)\/pipelines\/([^/]+)\/builds$/;
const BUILD_PATH = /^\/v2\/organizations\/([^/]+)\/pipelines\/([^/]+)\/builds\/(\d+)$/;
const CANCEL_PATH = /^\/v2\/organizations\/([^/]+)\/pipelines\/([^/]+)\/builds\/(\d+)\/cancel$/;
const LOG_PATH =
  /^\/v2\/organizations\/([^/]+)\/pipelines\/([^/]+)\/builds\/(\d+)\/jobs\/([^/]+)\/log$/;

/** The jobs every new build gets: two command steps around a wait step. */
function defaultJobs(): FakeJob[] {
  const job = (name: string, command: string, type: FakeJob["type"] = "script"): FakeJob => ({
    id: crypto.randomUUID(),
    type,
    name: type === "script" ? name : null,
    command: type === "script" ? command : null,
    state: type === "script" ? "scheduled" : "waiting",
    exit_status: null,
    started_at: null,
    finished_at: null,
    log: new Uint8Array(),
  });
  return [
    job(":test_tube: Test", "make test"),
    job("", "", "waiter"),
    job(":lint: Lint", "make lint"),
  ];
}

export class FakeBuildkite {
  readonly calls: RecordedCall[] = [];
  readonly builds = new Map<string, FakeBuild>();
  scopes = ["read_builds", "write_builds", "read_build_logs", "read_organizations"];
  /** Called once a create-build request has created its build, before the answer goes out. */
  onCreate: ((build: FakeBuild) => void) | undefined;
  rateLimit = { limit: 200, remaining: 190, reset: 42 };
  private readonly canned: Canned[] = [];
  private readonly numbers = new Map<string, number>();
  private held: HeldAnswer<FakeBuild> | undefined;
  private readonly server: ReturnType<typeof Bun.serve>;

  private constructor(readonly token: string) {
    this.server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (request) => this.handle(request),
    });
  }

  static start(token = "bk-test-token-0123456789"): FakeBuildkite {
    return new FakeBuildkite(token);
  }

  get url(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }

  stop(): void {
    this.server.stop(true);
  }

  /** Answers the next `times` requests matching method and path with `answer`. */
  answerNext(method: string, path: RegExp, answer: CannedAnswer, times = 1): void {
    this.canned.push({ method, path, answer, times });
  }

  /**
   * Holds back the answer of the next create-build request: `created` resolves once the build
   * exists (and is visible to GETs), the answer goes out on `release()`.
   */
  holdNextCreate(): { created: Promise<FakeBuild>; release: () => void } {
    const held = heldAnswer<FakeBuild>();
    this.held = held;
    return { created: held.reached, release: held.release };
  }

  callsTo(method: string, path: RegExp): RecordedCall[] {
    return this.calls.filter((call) => call.method === method && path.test(call.path));
  }

  /** The only build created so far (most tests create one). */
  onlyBuild(): FakeBuild {
    const all = [...this.builds.values()];
    if (all.length !== 1) throw new Error(`expected one build, have ${all.length}`);
    return all[0] as FakeBuild;
  }

  buildFor(workflow: string): FakeBuild | undefined {
    return [...this.builds.values()].find((build) => build.meta_data["tack:workflow"] === workflow);
  }

  /** Moves a build: e.g. `update(build, { state: "running" })`. */
  update(build: FakeBuild, patch: Partial<FakeBuild>): FakeBuild {
    Object.assign(build, patch);
    if (patch.state === "running" && !build.started_at) build.started_at = iso();
    if (["passed", "failed", "canceled", "skipped", "not_run"].includes(build.state)) {
      build.finished_at ??= iso();
    }
    return build;
  }

  /** The build's command jobs (the waiter in between is skipped). */
  scriptJobs(build: FakeBuild): FakeJob[] {
    return build.jobs.filter((job) => job.type === "script");
  }

  startJob(job: FakeJob): void {
    job.state = "running";
    job.started_at ??= iso();
  }

  finishJob(job: FakeJob, state = "passed", exitStatus = state === "passed" ? 0 : 1): void {
    job.state = state;
    job.exit_status = exitStatus;
    job.started_at ??= iso();
    job.finished_at = iso();
  }

  appendLog(job: FakeJob, text: string): void {
    const added = new TextEncoder().encode(text);
    const log = new Uint8Array(job.log.length + added.length);
    log.set(job.log);
    log.set(added, job.log.length);
    job.log = log;
  }

  /** The build as the REST API shows it. */
  buildJson(build: FakeBuild, options: { jobs?: boolean } = {}): Record<string, unknown> {
    const base = `${this.url}/v2/organizations/${build.org}/pipelines/${build.pipeline}`;
    const json: Record<string, unknown> = {
      id: build.id,
      graphql_id: btoa(`Build---${build.id}`),
      url: `${base}/builds/${build.number}`,
      web_url: `https://buildkite.com/${build.org}/${build.pipeline}/builds/${build.number}`,
      number: build.number,
      state: build.state,
      blocked: build.blocked,
      blocked_state: build.blocked ? "running" : "",
      cancel_reason: build.cancel_reason,
      message: build.message,
      commit: build.commit,
      branch: build.branch,
      tag: null,
      env: build.env,
      source: "api",
      author: null,
      creator: scheduledFixture.build.creator,
      created_at: build.created_at,
      scheduled_at: build.created_at,
      started_at: build.started_at,
      finished_at: build.finished_at,
      meta_data: build.meta_data,
      pull_request: build.pull_request,
      rebuilt_from: null,
      pipeline: { ...scheduledFixture.pipeline, slug: build.pipeline, name: build.pipeline },
    };
    if (options.jobs !== false) json.jobs = build.jobs.map((job) => this.jobJson(build, job));
    return json;
  }

  /** A webhook body for `event` about the build as it is now (no jobs, as Buildkite sends). */
  webhook(event: string, build: FakeBuild): WebhookBody {
    const { pipeline: _pipeline, ...webhookBuild } = this.buildJson(build, { jobs: false });
    return {
      event,
      build: webhookBuild,
      pipeline: { ...scheduledFixture.pipeline, slug: build.pipeline, name: build.pipeline },
      sender: scheduledFixture.sender,
    };
  }

  private jobJson(build: FakeBuild, job: FakeJob): Record<string, unknown> {
    const logUrl = `${this.url}/v2/organizations/${build.org}/pipelines/${build.pipeline}/builds/${build.number}/jobs/${job.id}/log`;
    if (job.type === "waiter") return { id: job.id, graphql_id: btoa(job.id), type: "waiter" };
    return {
      id: job.id,
      graphql_id: btoa(`Job---${job.id}`),
      type: job.type,
      name: job.name,
      step_key: null,
      agent_query_rules: ["queue=default"],
      state: job.state,
      web_url: `https://buildkite.com/${build.org}/${build.pipeline}/builds/${build.number}#${job.id}`,
      log_url: logUrl,
      raw_log_url: `${logUrl}.txt`,
      command: job.command,
      soft_failed: false,
      exit_status: job.exit_status,
      artifact_paths: "",
      agent: null,
      created_at: build.created_at,
      scheduled_at: build.created_at,
      runnable_at: build.created_at,
      started_at: job.started_at,
      finished_at: job.finished_at,
      retried: false,
      retried_in_job_id: null,
      retries_count: null,
      retry_type: null,
      parallel_group_index: null,
      parallel_group_total: null,
    };
  }

  private async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const raw = request.method === "POST" || request.method === "PUT" ? await request.text() : "";
    let body: unknown = raw;
    try {
      body = raw === "" ? undefined : JSON.parse(raw);
    } catch {}
    this.calls.push({
      method: request.method,
      path: url.pathname,
      query: url.searchParams,
      headers: request.headers,
      body,
    });
    if (request.headers.get("authorization") !== `Bearer ${this.token}`) {
      return this.json(401, {
        message: "Authentication required. Please supply a valid API Access Token.",
      });
    }
    const canned = this.canned.find(
      (entry) => entry.method === request.method && entry.path.test(url.pathname),
    );
    if (canned) {
      canned.times--;
      if (canned.times <= 0) this.canned.splice(this.canned.indexOf(canned), 1);
      if (canned.answer.thenPerform) await this.route(request, url, body);
      const headers = { ...this.rateLimitHeaders(), ...canned.answer.headers };
      return new Response(
        canned.answer.body === undefined ? "" : JSON.stringify(canned.answer.body),
        {
          status: canned.answer.status,
          headers: { "content-type": "application/json", ...headers },
        },
      );
    }
    return this.route(request, url, body);
  }

  private async route(request: Request, url: URL, body: unknown): Promise<Response> {
    const path = url.pathname;
    const method = request.method;
    if (method === "GET" && path === "/v2/access-token") {
      return this.json(200, { uuid: "b63254c0-3271-4a98-8270-7cfbd6c2f14e", scopes: this.scopes });
    }
    const org = ORG_PATH.exec(path);
    if (method === "GET" && org) {
      return this.json(200, { id: crypto.randomUUID(), slug: org[1], name: org[1] });
    }
    const builds = BUILDS_PATH.exec(path);
    if (method === "POST" && builds) {
      return this.createBuild(request, String(builds[1]), String(builds[2]), body);
    }
    if (method === "GET" && builds)
      return this.listBuilds(url, String(builds[1]), String(builds[2]));
    const one = BUILD_PATH.exec(path);
    if (method === "GET" && one) {
      const build = this.find(one);
      if (!build) return this.json(404, { message: "No build found" });
      const jobs = url.searchParams.get("exclude_jobs") !== "true";
      return this.json(200, this.buildJson(build, { jobs }));
    }
    const cancel = CANCEL_PATH.exec(path);
    if (method === "PUT" && cancel) {
      const build = this.find(cancel);
      if (!build) return this.json(404, { message: "No build found" });
      if (!["scheduled", "running", "failing"].includes(build.state)) {
        return this.json(422, { message: `Build can't be canceled because it's ${build.state}` });
      }
      this.update(build, { state: "canceled", cancel_reason: "canceled through the API" });
      return this.json(200, this.buildJson(build));
    }
    const log = LOG_PATH.exec(path);
    if ((method === "GET" || method === "HEAD") && log) {
      const build = this.find(log);
      const job = build?.jobs.find((candidate) => candidate.id === log[4]);
      if (!build || !job) return this.json(404, { message: "No job found" });
      return this.log(request, build, job);
    }
    return this.json(404, { message: "Not Found" });
  }

  /** GET …/builds, honouring the meta_data[key]=value filters. */
  private listBuilds(url: URL, org: string, pipeline: string): Response {
    const filters = [...url.searchParams]
      .map(([key, value]) => [/^meta_data\[(.+)\]$/.exec(key)?.[1], value] as const)
      .filter((filter): filter is readonly [string, string] => filter[0] !== undefined);
    const found = [...this.builds.values()].filter(
      (build) =>
        build.org === org &&
        build.pipeline === pipeline &&
        filters.every(([key, value]) => build.meta_data[key] === value),
    );
    return this.json(
      200,
      found.reverse().map((build) => this.buildJson(build)),
    );
  }

  private async createBuild(
    request: Request,
    org: string,
    pipeline: string,
    body: unknown,
  ): Promise<Response> {
    if (!request.headers.get("content-type")?.startsWith("application/json")) {
      return this.json(415, { message: "Content-Type must be application/json" });
    }
    const fields = new Map(typeof body === "object" && body !== null ? Object.entries(body) : []);
    const errors = ["commit", "branch"]
      .filter((field) => typeof fields.get(field) !== "string" || fields.get(field) === "")
      .map((field) => ({ field, code: "missing", message: "can't be blank" }));
    if (errors.length > 0) return this.json(422, { message: "Validation Failed", errors });
    const key = `${org}/${pipeline}`;
    const number = (this.numbers.get(key) ?? 0) + 1;
    this.numbers.set(key, number);
    const build: FakeBuild = {
      id: crypto.randomUUID(),
      org,
      pipeline,
      number,
      state: "scheduled",
      blocked: false,
      cancel_reason: null,
      message: String(fields.get("message") ?? ""),
      commit: String(fields.get("commit")),
      branch: String(fields.get("branch")),
      env: stringRecord(fields.get("env")),
      meta_data: stringRecord(fields.get("meta_data")),
      pull_request: pullRequestOf(fields.get("pull_request_base_branch")),
      created_at: iso(),
      started_at: null,
      finished_at: null,
      jobs: defaultJobs(),
    };
    this.builds.set(build.id, build);
    this.onCreate?.(build);
    const held = this.held;
    this.held = undefined;
    if (held) {
      held.arrived(build);
      await held.gate;
    }
    return this.json(201, this.buildJson(build));
  }

  private log(request: Request, build: FakeBuild, job: FakeJob): Response {
    const wantsText = request.headers.get("accept")?.includes("text/plain") ?? false;
    const size = job.log.length;
    if (request.method === "HEAD") {
      return new Response(null, {
        status: 200,
        headers: {
          ...this.rateLimitHeaders(),
          "content-type": wantsText ? "text/plain" : "application/json",
          "content-length": String(size),
          "accept-ranges": "bytes",
        },
      });
    }
    if (!wantsText) {
      const base = `${this.url}/v2/organizations/${build.org}/pipelines/${build.pipeline}/builds/${build.number}/jobs/${job.id}/log`;
      return this.json(200, {
        url: base,
        content: new TextDecoder().decode(job.log),
        size,
        header_times: [],
      });
    }
    const range = request.headers.get("range");
    if (range === null) {
      return new Response(job.log, {
        status: 200,
        headers: {
          ...this.rateLimitHeaders(),
          "content-type": "text/plain",
          "accept-ranges": "bytes",
        },
      });
    }
    const suffix = /^bytes=-(\d+)$/.exec(range);
    if (!suffix || Number(suffix[1]) === 0) {
      return this.json(400, { message: "Only suffix byte ranges are supported" });
    }
    if (size === 0) return this.json(416, { message: "Range Not Satisfiable" });
    const start = Math.max(0, size - Number(suffix[1]));
    return new Response(job.log.subarray(start), {
      status: 206,
      headers: {
        ...this.rateLimitHeaders(),
        "content-type": "text/plain",
        "content-range": `bytes ${start}-${size - 1}/${size}`,
      },
    });
  }

  private find(match: RegExpExecArray): FakeBuild | undefined {
    return [...this.builds.values()].find(
      (build) =>
        build.org === match[1] && build.pipeline === match[2] && build.number === Number(match[3]),
    );
  }

  private rateLimitHeaders(): Record<string, string> {
    return {
      "ratelimit-scope": "rest",
      "ratelimit-limit": String(this.rateLimit.limit),
      "ratelimit-remaining": String(this.rateLimit.remaining),
      "ratelimit-reset": String(this.rateLimit.reset),
    };
  }

  private json(status: number, body: unknown): Response {
    return new Response(JSON.stringify(body), {
      status,
      headers: { ...this.rateLimitHeaders(), "content-type": "application/json; charset=utf-8" },
    });
  }
}

function stringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof value !== "object" || value === null) return out;
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry === "string") out[key] = entry;
  }
  return out;
}

function pullRequestOf(base: unknown): FakeBuild["pull_request"] {
  return typeof base === "string" ? { id: null, base, repository: null } : null;
}

function iso(): string {
  return new Date().toISOString();
}
