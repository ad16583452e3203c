/**
 * A local stand-in for the GitHub REST API on 127.0.0.1, written from GitHub's documentation,
 * independent of src/. It checks what a real GitHub would refuse (token,
 * Accept, API version, dispatch body, declared inputs, known ref and workflow), records every
 * call, keeps runs and jobs that tests move along, and answers with bodies shaped like
 * GitHub's. Job logs answer 302 to a second server standing in for GitHub's log storage, which
 * records a problem if the token follows the redirect there.
 *
 * Knobs: `dispatchMode` (return the run id when asked, never, or refuse the flag like an old
 * GitHub Enterprise Server), `listLag` (a new run stays out of run lists for that many list
 * calls), `failNext` (answer 5xx/429/403 with chosen headers), `cancelCompletes`.
 */
import type { Server } from "bun";
import { type HeldAnswer, heldAnswer } from "./held-answer.ts";

export const GITHUB_TOKEN = "ghp_testtoken0000000000000000000000000000";
export const RUNNER_REPO = "acme/tangled-runner";
export const RUNNER_WORKFLOW = "tangled.yml";
export const API_VERSION = "2022-11-28";
export const STANDARD_INPUTS = ["correlation_id", "clone_url", "commit", "tangled"];

export interface FakeStep {
  name: string;
  status: string;
  conclusion: string | null;
  number: number;
  started_at: string | null;
  completed_at: string | null;
}

export interface FakeJob {
  id: number;
  run_id: number;
  name: string;
  status: string;
  conclusion: string | null;
  started_at: string | null;
  completed_at: string | null;
  steps: FakeStep[];
  /** The plain-text log served through the redirect; undefined → 404 (not available). */
  log?: string;
}

export interface FakeRun {
  id: number;
  repo: string;
  workflow: string;
  ref: string;
  inputs: Record<string, string>;
  display_title: string;
  status: string;
  conclusion: string | null;
  run_attempt: number;
  created_at: string;
  updated_at: string;
  /** List calls this run still stays out of (GitHub takes a moment to list a new run). */
  hiddenFromLists: number;
}

export interface RecordedCall {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body: unknown;
  /** "api" or "storage" (the log redirect's target). */
  host: "api" | "storage";
  /** Unix ms when it arrived. */
  at: number;
}

/** A dispatch the stand-in accepted as well-formed, as GitHub received it. */
export interface DispatchRecord {
  repo: string;
  workflow: string;
  ref: string;
  inputs: Record<string, string>;
  /** The `return_run_details` field, when sent. */
  returnRunDetails: unknown;
  /** Every top-level field of the body. */
  fields: string[];
}

interface Failure {
  method: string;
  path: RegExp;
  status: number;
  headers: Record<string, string>;
  remaining: number;
  /** Perform the request's effect before answering with the failure (a 502 after the run exists). */
  thenPerform: boolean;
}

let nextRunId = 9_000_000_001;
let nextJobId = 27_000_000_001;

export class FakeGithub {
  readonly calls: RecordedCall[] = [];
  /** Requests a real GitHub would have refused, described; tests expect this to stay empty. */
  readonly problems: string[] = [];
  readonly runs = new Map<number, FakeRun>();
  readonly jobs = new Map<number, FakeJob>();
  readonly dispatched: DispatchRecord[] = [];
  dispatchMode: "details" | "no-content" | "reject-flag" = "details";
  /** Called once a dispatch has created its run, before the answer goes out. */
  onDispatch: ((run: FakeRun) => void) | undefined;
  listLag = 0;
  cancelCompletes = false;
  /** The runner workflow's `run-name`, from its inputs. */
  runName: (inputs: Record<string, string>) => string = (inputs) =>
    `tangled ${inputs.correlation_id ?? ""}`;
  /** Inputs the runner workflow declares; anything else is refused with 422, as GitHub does. */
  declaredInputs = new Set(STANDARD_INPUTS);
  workflows = new Set([RUNNER_WORKFLOW, "4242"]);
  branches = new Set(["main", "release"]);
  defaultBranch = "main";
  /** A classic token's scopes (`x-oauth-scopes`); undefined for a fine-grained token. */
  scopes: string | undefined = "repo, workflow";
  /** The token's expiry as GitHub sends it (`github-authentication-token-expiration`), if any. */
  tokenExpiration: string | undefined;
  rateRemaining = 4999;
  private readonly failures: Failure[] = [];
  private held: HeldAnswer<FakeRun> | undefined;

  private constructor(
    private readonly api: Server<undefined>,
    private readonly storage: Server<undefined>,
  ) {}

  static start(): FakeGithub {
    let self: FakeGithub | undefined;
    const api = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (request) => (self ? self.handleApi(request) : new Response(null, { status: 503 })),
    });
    const storage = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (request) =>
        self ? self.handleStorage(request) : new Response(null, { status: 503 }),
    });
    self = new FakeGithub(api, storage);
    return self;
  }

  /** The API base URL, as TACK_GITHUB_API_URL would name it. */
  get url(): string {
    return `http://127.0.0.1:${this.api.port}`;
  }

  stop(): void {
    this.api.stop(true);
    this.storage.stop(true);
  }

  /** Answers the next `count` requests matching `method` and `path` with `status`. */
  failNext(
    method: string,
    path: RegExp,
    status: number,
    count = 1,
    headers: Record<string, string> = {},
    options: { thenPerform?: boolean } = {},
  ): void {
    this.failures.push({
      method,
      path,
      status,
      headers,
      remaining: count,
      thenPerform: options.thenPerform ?? false,
    });
  }

  /**
   * Holds back the answer of the next dispatch: `dispatched` resolves once the run exists (and,
   * lag permitting, is listed), the answer goes out on `release()`.
   */
  holdNextDispatch(): { dispatched: Promise<FakeRun>; release: () => void } {
    const held = heldAnswer<FakeRun>();
    this.held = held;
    return { dispatched: held.reached, release: held.release };
  }

  callsTo(method: string, path: RegExp): RecordedCall[] {
    return this.calls.filter((call) => call.method === method && path.test(call.path));
  }

  /** The run a dispatch created, by its correlation id input. */
  runFor(correlationId: string): FakeRun | undefined {
    return [...this.runs.values()].find((run) => run.inputs.correlation_id === correlationId);
  }

  lastRun(): FakeRun {
    const run = [...this.runs.values()].at(-1);
    if (!run) throw new Error("fake github: no run dispatched");
    return run;
  }

  setRun(id: number, patch: Partial<FakeRun>): FakeRun {
    const run = this.runs.get(id);
    if (!run) throw new Error(`fake github: no run ${id}`);
    Object.assign(run, patch, { updated_at: iso() });
    return run;
  }

  addJob(runId: number, job: Partial<FakeJob> & { name: string }): FakeJob {
    const full: FakeJob = {
      id: nextJobId++,
      run_id: runId,
      status: "queued",
      conclusion: null,
      started_at: null,
      completed_at: null,
      steps: [],
      ...job,
    };
    this.jobs.set(full.id, full);
    return full;
  }

  setJob(id: number, patch: Partial<FakeJob>): FakeJob {
    const job = this.jobs.get(id);
    if (!job) throw new Error(`fake github: no job ${id}`);
    Object.assign(job, patch);
    return job;
  }

  /** The run as GET /repos/{o}/{r}/actions/runs/{id} shows it. */
  runBody(run: FakeRun): Record<string, unknown> {
    const [owner = "", name = ""] = run.repo.split("/");
    const api = `${this.url}/repos/${run.repo}`;
    return {
      id: run.id,
      name: "tangled",
      node_id: `WFR_kwLOB${run.id}`,
      head_branch: run.ref,
      head_sha: "8e4a9f0c2b7d61e5a3f9c0d8b7a6e5f4c3d2b1a0",
      path: `.github/workflows/${RUNNER_WORKFLOW}`,
      display_title: run.display_title,
      run_number: run.id % 1000,
      event: "workflow_dispatch",
      status: run.status,
      conclusion: run.conclusion,
      workflow_id: 4242,
      check_suite_id: run.id + 1,
      check_suite_node_id: `CS_kwDOB${run.id}`,
      url: `${api}/actions/runs/${run.id}`,
      html_url: `https://github.com/${run.repo}/actions/runs/${run.id}`,
      pull_requests: [],
      created_at: run.created_at,
      updated_at: run.updated_at,
      actor: { login: "tack-bot", id: 1001, type: "User" },
      run_attempt: run.run_attempt,
      referenced_workflows: [],
      run_started_at: run.created_at,
      triggering_actor: { login: "tack-bot", id: 1001, type: "User" },
      jobs_url: `${api}/actions/runs/${run.id}/jobs`,
      logs_url: `${api}/actions/runs/${run.id}/logs`,
      check_suite_url: `${api}/check-suites/${run.id + 1}`,
      artifacts_url: `${api}/actions/runs/${run.id}/artifacts`,
      cancel_url: `${api}/actions/runs/${run.id}/cancel`,
      rerun_url: `${api}/actions/runs/${run.id}/rerun`,
      previous_attempt_url: null,
      workflow_url: `${api}/actions/workflows/4242`,
      head_commit: {
        id: "8e4a9f0c2b7d61e5a3f9c0d8b7a6e5f4c3d2b1a0",
        message: "runner workflow",
        timestamp: run.created_at,
      },
      repository: { id: 700001, name, full_name: run.repo, owner: { login: owner }, private: true },
      head_repository: { id: 700001, name, full_name: run.repo, owner: { login: owner } },
    };
  }

  /** The job as GET …/runs/{id}/jobs lists it. */
  jobBody(job: FakeJob): Record<string, unknown> {
    const run = this.runs.get(job.run_id);
    const repo = run?.repo ?? RUNNER_REPO;
    return {
      id: job.id,
      run_id: job.run_id,
      workflow_name: "tangled",
      head_branch: run?.ref ?? "main",
      run_url: `${this.url}/repos/${repo}/actions/runs/${job.run_id}`,
      run_attempt: run?.run_attempt ?? 1,
      node_id: `CR_kwDOB${job.id}`,
      head_sha: "8e4a9f0c2b7d61e5a3f9c0d8b7a6e5f4c3d2b1a0",
      url: `${this.url}/repos/${repo}/actions/jobs/${job.id}`,
      html_url: `https://github.com/${repo}/actions/runs/${job.run_id}/job/${job.id}`,
      status: job.status,
      conclusion: job.conclusion,
      created_at: run?.created_at ?? iso(),
      started_at: job.started_at,
      completed_at: job.completed_at,
      name: job.name,
      steps: job.steps,
      check_run_url: `${this.url}/repos/${repo}/check-runs/${job.id}`,
      labels: ["ubuntu-latest"],
      runner_id: job.started_at ? 42 : null,
      runner_name: job.started_at ? "GitHub Actions 42" : null,
      runner_group_id: job.started_at ? 2 : null,
      runner_group_name: job.started_at ? "GitHub Actions" : null,
    };
  }

  private async handleApi(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const text = await request.text();
    let body: unknown;
    try {
      body = text === "" ? undefined : JSON.parse(text);
    } catch {
      body = text;
    }
    this.calls.push({
      method: request.method,
      path: url.pathname,
      query: url.searchParams,
      headers: request.headers,
      body,
      host: "api",
      at: Date.now(),
    });
    const failure = this.failures.find(
      (f) => f.remaining > 0 && f.method === request.method && f.path.test(url.pathname),
    );
    if (failure) {
      failure.remaining--;
      if (failure.thenPerform) await this.route(request.method, url, body);
      return this.json(failure.status, { message: `injected ${failure.status}` }, failure.headers);
    }
    if (request.headers.get("authorization") !== `Bearer ${GITHUB_TOKEN}`) {
      return this.json(401, {
        message: "Bad credentials",
        documentation_url: "https://docs.github.com/rest",
      });
    }
    if (request.headers.get("accept") !== "application/vnd.github+json") {
      this.problems.push(
        `${request.method} ${url.pathname}: Accept is ${request.headers.get("accept")}`,
      );
    }
    if (request.headers.get("x-github-api-version") !== API_VERSION) {
      this.problems.push(`${request.method} ${url.pathname}: no X-GitHub-Api-Version`);
      return this.json(400, { message: "Unsupported API version" });
    }
    if (!request.headers.get("user-agent")) {
      this.problems.push(`${request.method} ${url.pathname}: no User-Agent`);
    }
    return this.route(request.method, url, body);
  }

  private async route(method: string, url: URL, body: unknown): Promise<Response> {
    const path = url.pathname;
    if (method === "GET" && path === "/rate_limit") {
      const core = {
        limit: 5000,
        used: 5000 - this.rateRemaining,
        remaining: this.rateRemaining,
        reset: resetSeconds(),
      };
      return this.json(
        200,
        { resources: { core, search: core, graphql: core }, rate: core },
        this.scopes === undefined ? {} : { "x-oauth-scopes": this.scopes },
      );
    }
    let match = /^\/repos\/([^/]+\/[^/]+)$/.exec(path);
    if (method === "GET" && match?.[1]) {
      const [owner = "", name = ""] = match[1].split("/");
      return this.json(200, {
        id: 700001,
        name,
        full_name: match[1],
        owner: { login: owner },
        private: true,
        default_branch: this.defaultBranch,
      });
    }
    match = /^\/repos\/([^/]+\/[^/]+)\/actions\/workflows\/([^/]+)\/dispatches$/.exec(path);
    if (method === "POST" && match?.[1] && match[2]) {
      const answer = this.dispatch(match[1], match[2], body);
      const held = this.held;
      const run = [...this.runs.values()].at(-1);
      if (held && answer.status < 300 && run) {
        this.held = undefined;
        held.arrived(run);
        await held.gate;
      }
      return answer;
    }
    match = /^\/repos\/([^/]+\/[^/]+)\/actions\/workflows\/([^/]+)\/runs$/.exec(path);
    if (method === "GET" && match?.[1] && match[2]) return this.listRuns(match[1], match[2], url);
    match = /^\/repos\/([^/]+\/[^/]+)\/actions\/runs\/(\d+)$/.exec(path);
    if (method === "GET" && match?.[2]) {
      const run = this.runs.get(Number(match[2]));
      return run ? this.json(200, this.runBody(run)) : this.notFound();
    }
    match = /^\/repos\/([^/]+\/[^/]+)\/actions\/runs\/(\d+)\/jobs$/.exec(path);
    if (method === "GET" && match?.[2]) {
      const runId = Number(match[2]);
      if (!this.runs.has(runId)) return this.notFound();
      const jobs = [...this.jobs.values()].filter((job) => job.run_id === runId);
      return this.json(200, {
        total_count: jobs.length,
        jobs: jobs.map((job) => this.jobBody(job)),
      });
    }
    match = /^\/repos\/([^/]+\/[^/]+)\/actions\/jobs\/(\d+)\/logs$/.exec(path);
    if (method === "GET" && match?.[2]) {
      const job = this.jobs.get(Number(match[2]));
      if (!job || job.log === undefined) return this.notFound();
      return new Response(null, {
        status: 302,
        headers: {
          location: `http://127.0.0.1:${this.storage.port}/job-logs/${job.id}.txt?sig=short-lived`,
          ...this.rateHeaders(),
        },
      });
    }
    match = /^\/repos\/([^/]+\/[^/]+)\/actions\/runs\/(\d+)\/cancel$/.exec(path);
    if (method === "POST" && match?.[2]) {
      const run = this.runs.get(Number(match[2]));
      if (!run) return this.notFound();
      if (run.status === "completed") {
        return this.json(409, { message: "Cannot cancel a workflow run that is completed." });
      }
      if (this.cancelCompletes)
        this.setRun(run.id, { status: "completed", conclusion: "cancelled" });
      return this.json(202, {});
    }
    return this.notFound();
  }

  private dispatch(repo: string, workflow: string, body: unknown): Response {
    if (!this.workflows.has(workflow)) return this.notFound();
    if (!isObject(body) || typeof body.ref !== "string") {
      this.problems.push(`dispatch without a ref: ${JSON.stringify(body)}`);
      return this.json(422, { message: 'Invalid request.\n\n"ref" wasn\'t supplied.' });
    }
    const extra = Object.keys(body).filter(
      (key) => !["ref", "inputs", "return_run_details"].includes(key),
    );
    if (extra.length > 0) this.problems.push(`dispatch with unknown fields: ${extra.join(", ")}`);
    if ("return_run_details" in body && this.dispatchMode === "reject-flag") {
      return this.json(422, {
        message: 'Invalid request.\n\n"return_run_details" is not a permitted key.',
      });
    }
    const inputs = isObject(body.inputs) ? body.inputs : {};
    const strings: Record<string, string> = {};
    for (const [key, value] of Object.entries(inputs)) {
      if (typeof value !== "string") {
        this.problems.push(`dispatch input ${key} is not a string`);
        return this.json(422, { message: `Invalid value for input '${key}'` });
      }
      strings[key] = value;
    }
    this.dispatched.push({
      repo,
      workflow,
      ref: body.ref,
      inputs: strings,
      returnRunDetails: body.return_run_details,
      fields: Object.keys(body),
    });
    if (Object.keys(strings).length > 10) {
      return this.json(422, {
        message: "you may only define up to 10 `inputs` for a `workflow_dispatch` event",
      });
    }
    const unexpected = Object.keys(strings).filter((key) => !this.declaredInputs.has(key));
    if (unexpected.length > 0) {
      return this.json(422, {
        message: `Unexpected inputs provided: ${JSON.stringify(unexpected)}`,
      });
    }
    if (!this.branches.has(body.ref)) {
      return this.json(422, { message: `No ref found for: ${body.ref}` });
    }
    const now = iso();
    const run: FakeRun = {
      id: nextRunId++,
      repo,
      workflow,
      ref: body.ref,
      inputs: strings,
      display_title: this.runName(strings),
      status: "queued",
      conclusion: null,
      run_attempt: 1,
      created_at: now,
      updated_at: now,
      hiddenFromLists: this.listLag,
    };
    this.runs.set(run.id, run);
    this.onDispatch?.(run);
    if (body.return_run_details === true && this.dispatchMode === "details") {
      return this.json(200, {
        workflow_run_id: run.id,
        run_url: `${this.url}/repos/${repo}/actions/runs/${run.id}`,
        html_url: `https://github.com/${repo}/actions/runs/${run.id}`,
      });
    }
    return new Response(null, { status: 204, headers: this.rateHeaders() });
  }

  private listRuns(repo: string, workflow: string, url: URL): Response {
    const created = url.searchParams.get("created");
    let since = 0;
    if (created !== null) {
      const match = /^>=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)$/.exec(created);
      if (!match?.[1]) {
        this.problems.push(`list runs with an unparsable created filter: ${created}`);
        return this.json(422, { message: "Invalid created filter" });
      }
      since = Date.parse(match[1]);
    }
    // Every run here is a workflow_dispatch run.
    const event = url.searchParams.get("event") ?? "workflow_dispatch";
    const listed = [...this.runs.values()]
      .filter(() => event === "workflow_dispatch")
      .filter((run) => run.repo === repo && run.workflow === workflow)
      .filter((run) => Date.parse(run.created_at) >= since)
      .filter((run) => {
        if (run.hiddenFromLists <= 0) return true;
        run.hiddenFromLists--;
        return false;
      })
      .reverse();
    return this.json(200, {
      total_count: listed.length,
      workflow_runs: listed.map((run) => this.runBody(run)),
    });
  }

  private handleStorage(request: Request): Response {
    const url = new URL(request.url);
    this.calls.push({
      method: request.method,
      path: url.pathname,
      query: url.searchParams,
      headers: request.headers,
      body: undefined,
      host: "storage",
      at: Date.now(),
    });
    if (request.headers.get("authorization") !== null) {
      this.problems.push("the log storage host received an Authorization header");
      return new Response("<Error><Code>InvalidAuthenticationInfo</Code></Error>", { status: 400 });
    }
    const match = /^\/job-logs\/(\d+)\.txt$/.exec(url.pathname);
    const job = match?.[1] ? this.jobs.get(Number(match[1])) : undefined;
    if (!job || job.log === undefined || url.searchParams.get("sig") !== "short-lived") {
      return new Response("<Error><Code>ResourceNotFound</Code></Error>", { status: 404 });
    }
    return new Response(job.log, { headers: { "content-type": "text/plain; charset=utf-8" } });
  }

  private json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
    return new Response(JSON.stringify(body), {
      status,
      headers: {
        "content-type": "application/json; charset=utf-8",
        ...this.rateHeaders(),
        ...headers,
      },
    });
  }

  /** What GitHub sends with every API answer: the rate limit, and the token's expiry if any. */
  private rateHeaders(): Record<string, string> {
    return {
      ...(this.tokenExpiration === undefined
        ? {}
        : { "github-authentication-token-expiration": this.tokenExpiration }),
      "x-ratelimit-limit": "5000",
      "x-ratelimit-remaining": String(this.rateRemaining),
      "x-ratelimit-reset": String(resetSeconds()),
      "x-ratelimit-resource": "core",
      "x-github-request-id": `F00D:${Math.floor(Math.random() * 1e6)}`,
    };
  }

  private notFound(): Response {
    return this.json(404, {
      message: "Not Found",
      documentation_url: "https://docs.github.com/rest",
      status: "404",
    });
  }
}

function iso(date: Date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function resetSeconds(): number {
  return Math.floor(Date.now() / 1000) + 3600;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
