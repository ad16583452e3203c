/**
 * A local stand-in for a GitLab instance's REST API (v4) on 127.0.0.1, written from GitLab's
 * documentation, independent of src/. It checks what a real GitLab would refuse (the token, a
 * project named by an unencoded path, an unknown ref, undeclared, missing or mistyped inputs,
 * pipeline variables the project locks down), records every call, keeps pipelines and jobs that
 * tests move along, serves job traces (ignoring Range, as gitlab.com does, unless told to honour
 * it) and answers with bodies shaped like GitLab's. It also builds the `Pipeline Hook` and
 * `Job Hook` deliveries GitLab would send, with their headers.
 *
 * Knobs: `listLag` (a new pipeline stays out of lists for that many list calls), `failNext`
 * (answer an error, optionally after performing the request), `onCreate` and
 * `holdNextCreate` (act the moment a pipeline exists), `honourRange`, `cancelCompletes`,
 * `nameTemplate` (the runner's `workflow:name`), `scopes`, `rateRemaining`.
 */
import { randomUUID } from "node:crypto";
import type { Server } from "bun";
import { type HeldAnswer, heldAnswer } from "./held-answer.ts";

export const GITLAB_TOKEN = "glpat-testtoken0000000000000";
export const GITLAB_WEBHOOK_SECRET = "gitlab-hook-secret-0123456789abcdef";
export const RUNNER_PROJECT = "acme/tangled-runner";
export const RUNNER_PROJECT_ID = 4242;
export const STANDARD_INPUTS = ["correlation_id", "clone_url", "commit", "tangled"];

export interface DeclaredInput {
  type: "string" | "number" | "boolean" | "array";
  /** No default: the create must give it. */
  required: boolean;
}

export interface FakeProject {
  id: number;
  path: string;
  defaultBranch: string | null;
  branches: Set<string>;
  /** The `spec: inputs:` header of its .gitlab-ci.yml. */
  inputs: Map<string, DeclaredInput>;
  /** `ci_pipeline_variables_minimum_override_role`. */
  variablesRole: "no_one_allowed" | "developer" | "maintainer" | "owner";
  /** The token's access level here (30 Developer, 40 Maintainer). */
  accessLevel: number;
}

export interface FakePipeline {
  id: number;
  iid: number;
  projectId: number;
  ref: string;
  sha: string;
  status: string;
  name: string | null;
  inputs: Record<string, unknown>;
  variables: { key: string; value: string; variable_type?: string }[];
  created_at: string;
  updated_at: string;
  /** List calls this pipeline still stays out of. */
  hiddenFromLists: number;
}

export interface FakeJob {
  id: number;
  pipelineId: number;
  name: string;
  stage: string;
  status: string;
  failure_reason: string | null;
  started_at: string | null;
  finished_at: string | null;
  /** The raw trace served by …/trace (grows while the job runs). */
  trace: string;
}

export interface RecordedCall {
  method: string;
  /** The path as sent (still URL-encoded), without /api/v4. */
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body: unknown;
  /** Unix ms when it arrived. */
  at: number;
}

interface Failure {
  method: string;
  path: RegExp;
  status: number;
  body: unknown;
  headers: Record<string, string>;
  remaining: number;
  /** Perform the request's effect before answering with the failure (a 502 after the create). */
  thenPerform: boolean;
}

let nextPipelineId = 310_000_001;
let nextJobId = 8_100_000_001;

export class FakeGitlab {
  readonly calls: RecordedCall[] = [];
  /** Requests a real GitLab would have refused or that look wrong, described; tests expect none. */
  readonly problems: string[] = [];
  readonly projects = new Map<number, FakeProject>();
  readonly pipelines = new Map<number, FakePipeline>();
  readonly jobs = new Map<number, FakeJob>();
  listLag = 0;
  honourRange = false;
  cancelCompletes = false;
  /** The runner's `workflow: name:`, interpolated from the create's inputs. */
  nameTemplate: (inputs: Record<string, unknown>) => string | null = (inputs) =>
    `tangled ${String(inputs.correlation_id ?? "")}`;
  /** Called once a create has made its pipeline, before the answer goes out. */
  onCreate: ((pipeline: FakePipeline) => void) | undefined;
  scopes = ["api", "read_user"];
  tokenActive = true;
  /** The token's expiry date as GitLab shows it (YYYY-MM-DD), or null for none. */
  tokenExpiresAt: string | null = "2099-01-05";
  /** False: GET /personal_access_tokens/self is unknown (GitLab before 15.5). */
  tokenSelfKnown = true;
  rateRemaining = 1990;
  private readonly failures: Failure[] = [];
  private held: HeldAnswer<FakePipeline> | undefined;

  private constructor(private readonly server: Server<undefined>) {
    this.addProject({ id: RUNNER_PROJECT_ID, path: RUNNER_PROJECT });
  }

  static start(): FakeGitlab {
    let self: FakeGitlab | undefined;
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (request) => (self ? self.handle(request) : new Response(null, { status: 503 })),
    });
    self = new FakeGitlab(server);
    return self;
  }

  /** The instance URL, as TACK_GITLAB_URL would name it. */
  get url(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }

  stop(): void {
    this.server.stop(true);
  }

  addProject(project: Partial<FakeProject> & { id: number; path: string }): FakeProject {
    const full: FakeProject = {
      defaultBranch: "main",
      branches: new Set(["main", "release"]),
      inputs: new Map([
        ["correlation_id", { type: "string", required: true }],
        ["clone_url", { type: "string", required: true }],
        ["commit", { type: "string", required: false }],
        ["tangled", { type: "string", required: true }],
      ]),
      variablesRole: "no_one_allowed",
      accessLevel: 30,
      ...project,
    };
    this.projects.set(full.id, full);
    return full;
  }

  get runner(): FakeProject {
    const project = this.projects.get(RUNNER_PROJECT_ID);
    if (!project) throw new Error("fake gitlab: no runner project");
    return project;
  }

  /** Answers the next `count` requests matching `method` and `path` (without /api/v4). */
  failNext(
    method: string,
    path: RegExp,
    status: number,
    count = 1,
    options: { headers?: Record<string, string>; body?: unknown; thenPerform?: boolean } = {},
  ): void {
    this.failures.push({
      method,
      path,
      status,
      body: options.body ?? { message: `${status} injected` },
      headers: options.headers ?? {},
      remaining: count,
      thenPerform: options.thenPerform ?? false,
    });
  }

  /** Holds back the answer of the next create: `created` resolves once the pipeline exists. */
  holdNextCreate(): { created: Promise<FakePipeline>; release: () => void } {
    const held = heldAnswer<FakePipeline>();
    this.held = held;
    return { created: held.reached, release: held.release };
  }

  callsTo(method: string, path: RegExp): RecordedCall[] {
    return this.calls.filter((call) => call.method === method && path.test(call.path));
  }

  lastPipeline(): FakePipeline {
    const pipeline = [...this.pipelines.values()].at(-1);
    if (!pipeline) throw new Error("fake gitlab: no pipeline created");
    return pipeline;
  }

  /** The pipeline a create made for a correlation id input. */
  pipelineFor(correlationId: string): FakePipeline | undefined {
    return [...this.pipelines.values()].find(
      (pipeline) => pipeline.inputs.correlation_id === correlationId,
    );
  }

  setPipeline(id: number, patch: Partial<FakePipeline>): FakePipeline {
    const pipeline = this.pipelines.get(id);
    if (!pipeline) throw new Error(`fake gitlab: no pipeline ${id}`);
    Object.assign(pipeline, patch, { updated_at: iso() });
    return pipeline;
  }

  addJob(pipelineId: number, job: Partial<FakeJob> & { name: string }): FakeJob {
    const full: FakeJob = {
      id: nextJobId++,
      pipelineId,
      stage: "test",
      status: "created",
      failure_reason: null,
      started_at: null,
      finished_at: null,
      trace: "",
      ...job,
    };
    this.jobs.set(full.id, full);
    return full;
  }

  setJob(id: number, patch: Partial<FakeJob>): FakeJob {
    const job = this.jobs.get(id);
    if (!job) throw new Error(`fake gitlab: no job ${id}`);
    Object.assign(job, patch);
    return job;
  }

  /** The Tangled pipeline rkey a pipeline was created for (from its `tangled` input). */
  rkeyOf(pipeline: FakePipeline): string {
    try {
      const tangled: unknown = JSON.parse(String(pipeline.inputs.tangled ?? "{}"));
      if (typeof tangled === "object" && tangled !== null && "pipeline_rkey" in tangled) {
        return String(tangled.pipeline_rkey);
      }
    } catch {}
    return "";
  }

  /** The pipeline as GET /projects/:id/pipelines/:pipeline_id shows it. */
  pipelineBody(pipeline: FakePipeline): Record<string, unknown> {
    const project = this.projects.get(pipeline.projectId);
    const started =
      pipeline.status === "created" || pipeline.status === "pending" ? null : pipeline.created_at;
    const finished = ["success", "failed", "canceled", "skipped"].includes(pipeline.status)
      ? pipeline.updated_at
      : null;
    return {
      id: pipeline.id,
      iid: pipeline.iid,
      project_id: pipeline.projectId,
      name: pipeline.name,
      sha: pipeline.sha,
      ref: pipeline.ref,
      status: pipeline.status,
      source: "api",
      created_at: pipeline.created_at,
      updated_at: pipeline.updated_at,
      web_url: this.webUrl(pipeline),
      before_sha: "0000000000000000000000000000000000000000",
      tag: false,
      yaml_errors: null,
      user: {
        id: 77,
        username: "tack-bot",
        name: "tack",
        state: "active",
        avatar_url: null,
        web_url: `https://gitlab.example.com/tack-bot`,
      },
      started_at: started,
      finished_at: finished,
      committed_at: null,
      duration: null,
      queued_duration: 0.01,
      coverage: null,
      detailed_status: {
        icon: `status_${pipeline.status}`,
        text: pipeline.status,
        label: pipeline.status,
        group: pipeline.status,
        tooltip: pipeline.status,
        has_details: true,
        details_path: `/${project?.path ?? ""}/-/pipelines/${pipeline.id}`,
        illustration: null,
        favicon: "/assets/ci_favicons/favicon_status.png",
      },
    };
  }

  /** The job as GET …/pipelines/:id/jobs lists it. */
  jobBody(job: FakeJob): Record<string, unknown> {
    const pipeline = this.pipelines.get(job.pipelineId);
    const project = pipeline ? this.projects.get(pipeline.projectId) : undefined;
    return {
      id: job.id,
      status: job.status,
      stage: job.stage,
      name: job.name,
      ref: pipeline?.ref ?? "main",
      tag: false,
      coverage: null,
      allow_failure: false,
      created_at: pipeline?.created_at ?? iso(),
      started_at: job.started_at,
      finished_at: job.finished_at,
      erased_at: null,
      duration: null,
      queued_duration: 1.5,
      user: { id: 77, username: "tack-bot" },
      commit: { id: pipeline?.sha ?? "", short_id: (pipeline?.sha ?? "").slice(0, 8) },
      pipeline: {
        id: job.pipelineId,
        project_id: pipeline?.projectId,
        ref: pipeline?.ref,
        sha: pipeline?.sha,
        status: pipeline?.status,
      },
      web_url: `https://gitlab.example.com/${project?.path ?? ""}/-/jobs/${job.id}`,
      project: { ci_job_token_scope_enabled: false },
      artifacts: [],
      runner: job.started_at ? { id: 12, description: "shared-runner", active: true } : null,
      artifacts_expire_at: null,
      tag_list: ["docker"],
      ...(job.status === "failed"
        ? { failure_reason: job.failure_reason ?? "script_failure" }
        : {}),
    };
  }

  /** A `Pipeline Hook` payload for the pipeline as it is now, its jobs as builds. */
  pipelineHook(pipeline: FakePipeline): Record<string, unknown> {
    const project = this.projects.get(pipeline.projectId);
    const jobs = [...this.jobs.values()].filter((job) => job.pipelineId === pipeline.id);
    return {
      object_kind: "pipeline",
      object_attributes: {
        id: pipeline.id,
        iid: pipeline.iid,
        name: pipeline.name,
        ref: pipeline.ref,
        tag: false,
        sha: pipeline.sha,
        before_sha: "0000000000000000000000000000000000000000",
        source: "api",
        status: pipeline.status,
        detailed_status: pipeline.status,
        stages: [...new Set(jobs.map((job) => job.stage))],
        created_at: hookTime(pipeline.created_at),
        finished_at: null,
        duration: null,
        queued_duration: null,
        variables: pipeline.variables.map(({ key, value }) => ({ key, value })),
        url: this.webUrl(pipeline),
      },
      merge_request: null,
      user: { id: 77, name: "tack", username: "tack-bot", avatar_url: null, email: "[REDACTED]" },
      project: {
        id: pipeline.projectId,
        name: project?.path.split("/").at(-1) ?? "",
        description: "",
        web_url: `https://gitlab.example.com/${project?.path ?? ""}`,
        avatar_url: null,
        git_ssh_url: `git@gitlab.example.com:${project?.path ?? ""}.git`,
        git_http_url: `https://gitlab.example.com/${project?.path ?? ""}.git`,
        namespace: project?.path.split("/")[0] ?? "",
        visibility_level: 0,
        path_with_namespace: project?.path ?? "",
        default_branch: project?.defaultBranch ?? "main",
        ci_config_path: null,
      },
      commit: {
        id: pipeline.sha,
        message: "runner\n",
        title: "runner",
        timestamp: pipeline.created_at,
        url: `https://gitlab.example.com/${project?.path ?? ""}/-/commit/${pipeline.sha}`,
        author: { name: "tack", email: "[REDACTED]" },
      },
      builds: jobs.map((job) => ({
        id: job.id,
        stage: job.stage,
        name: job.name,
        status: job.status,
        created_at: hookTime(pipeline.created_at),
        started_at: job.started_at ? hookTime(job.started_at) : null,
        finished_at: job.finished_at ? hookTime(job.finished_at) : null,
        duration: null,
        queued_duration: null,
        failure_reason: job.status === "failed" ? (job.failure_reason ?? "script_failure") : null,
        when: "on_success",
        manual: false,
        allow_failure: false,
        user: { id: 77, name: "tack", username: "tack-bot" },
        runner: null,
        artifacts_file: { filename: null, size: null },
        environment: null,
      })),
    };
  }

  /** A `Job Hook` payload for the job as it is now. */
  jobHook(job: FakeJob): Record<string, unknown> {
    const pipeline = this.pipelines.get(job.pipelineId);
    const project = pipeline ? this.projects.get(pipeline.projectId) : undefined;
    return {
      object_kind: "build",
      ref: pipeline?.ref ?? "main",
      tag: false,
      before_sha: "0000000000000000000000000000000000000000",
      sha: pipeline?.sha ?? "",
      build_id: job.id,
      build_name: job.name,
      build_stage: job.stage,
      build_status: job.status,
      build_created_at: pipeline?.created_at ?? iso(),
      build_started_at: job.started_at,
      build_finished_at: job.finished_at,
      build_duration: null,
      build_queued_duration: 1.5,
      build_allow_failure: false,
      build_failure_reason: job.failure_reason ?? "unknown_failure",
      retries_count: 0,
      pipeline_id: job.pipelineId,
      project_id: pipeline?.projectId ?? 0,
      project_name: project?.path ?? "",
      user: { id: 77, name: "tack", email: "[REDACTED]" },
      commit: {
        id: job.pipelineId,
        name: pipeline?.name ?? null,
        sha: pipeline?.sha ?? "",
        message: "runner\n",
        status: pipeline?.status ?? "created",
      },
      repository: { name: project?.path.split("/").at(-1) ?? "" },
      project: { id: pipeline?.projectId ?? 0, path_with_namespace: project?.path ?? "" },
      runner: null,
      environment: null,
    };
  }

  private webUrl(pipeline: FakePipeline): string {
    const project = this.projects.get(pipeline.projectId);
    return `https://gitlab.example.com/${project?.path ?? ""}/-/pipelines/${pipeline.id}`;
  }

  private async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const text = await request.text();
    let body: unknown;
    try {
      body = text === "" ? undefined : JSON.parse(text);
    } catch {
      body = text;
    }
    if (!url.pathname.startsWith("/api/v4/")) {
      this.problems.push(`${request.method} ${url.pathname}: not under /api/v4`);
      return this.json(404, { message: "404 Not Found" });
    }
    const path = url.pathname.slice("/api/v4".length);
    this.calls.push({
      method: request.method,
      path,
      query: url.searchParams,
      headers: request.headers,
      body,
      at: Date.now(),
    });
    const failure = this.failures.find(
      (f) => f.remaining > 0 && f.method === request.method && f.path.test(path),
    );
    if (failure) {
      failure.remaining--;
      if (failure.thenPerform) await this.route(request, url, path, body);
      return this.json(failure.status, failure.body, failure.headers);
    }
    const token =
      request.headers.get("private-token") ??
      /^Bearer (.+)$/.exec(request.headers.get("authorization") ?? "")?.[1];
    if (token !== GITLAB_TOKEN) return this.json(401, { message: "401 Unauthorized" });
    if (!request.headers.get("user-agent")) {
      this.problems.push(`${request.method} ${path}: no User-Agent`);
    }
    return this.route(request, url, path, body);
  }

  private async route(request: Request, url: URL, path: string, body: unknown): Promise<Response> {
    const method = request.method;
    if (method === "GET" && path === "/personal_access_tokens/self") {
      if (!this.tokenSelfKnown) return this.json(404, { error: "404 Not Found" });
      return this.json(200, {
        id: 991,
        name: "tack",
        revoked: !this.tokenActive,
        created_at: "2026-01-05T10:00:00.000Z",
        description: "",
        scopes: this.scopes,
        user_id: 77,
        last_used_at: iso(),
        active: this.tokenActive,
        expires_at: this.tokenExpiresAt,
      });
    }
    if (method === "GET" && path === "/user") {
      return this.json(200, { id: 77, username: "tack-bot", name: "tack", state: "active" });
    }
    const match = /^\/projects\/([^/]+)(\/.*)?$/.exec(path);
    if (!match?.[1]) return this.notFound("404 Not Found");
    const named = match[1];
    const project = this.projectNamed(named);
    if (!project) return this.notFound("404 Project Not Found");
    const rest = match[2] ?? "";

    if (method === "GET" && rest === "") return this.json(200, this.projectBody(project));
    if (method === "POST" && rest === "/pipeline") return this.create(project, url, body);
    if (method === "GET" && rest === "/pipelines") return this.list(project, url);
    let found = /^\/pipelines\/(\d+)$/.exec(rest);
    if (method === "GET" && found?.[1]) {
      const pipeline = this.pipelineIn(project, Number(found[1]));
      return pipeline
        ? this.json(200, this.pipelineBody(pipeline))
        : this.notFound("404 Not found");
    }
    found = /^\/pipelines\/(\d+)\/jobs$/.exec(rest);
    if (method === "GET" && found?.[1]) {
      const pipeline = this.pipelineIn(project, Number(found[1]));
      if (!pipeline) return this.notFound("404 Not found");
      const perPage = Number(url.searchParams.get("per_page") ?? "20");
      const page = Number(url.searchParams.get("page") ?? "1");
      const jobs = [...this.jobs.values()]
        .filter((job) => job.pipelineId === pipeline.id)
        .sort((a, b) => b.id - a.id)
        .slice((page - 1) * perPage, page * perPage);
      return this.json(
        200,
        jobs.map((job) => this.jobBody(job)),
      );
    }
    found = /^\/jobs\/(\d+)\/trace$/.exec(rest);
    if (method === "GET" && found?.[1]) return this.trace(project, Number(found[1]), request);
    found = /^\/pipelines\/(\d+)\/cancel$/.exec(rest);
    if (method === "POST" && found?.[1]) {
      const pipeline = this.pipelineIn(project, Number(found[1]));
      if (!pipeline) return this.notFound("404 Not found");
      if (!["success", "failed", "canceled", "skipped"].includes(pipeline.status)) {
        this.setPipeline(pipeline.id, {
          status: this.cancelCompletes ? "canceled" : "canceling",
        });
      }
      return this.json(200, this.pipelineBody(pipeline));
    }
    return this.notFound("404 Not Found");
  }

  private projectNamed(named: string): FakeProject | undefined {
    if (/^\d+$/.test(named)) return this.projects.get(Number(named));
    const path = decodeURIComponent(named);
    return [...this.projects.values()].find((project) => project.path === path);
  }

  private pipelineIn(project: FakeProject, id: number): FakePipeline | undefined {
    const pipeline = this.pipelines.get(id);
    return pipeline?.projectId === project.id ? pipeline : undefined;
  }

  private projectBody(project: FakeProject): Record<string, unknown> {
    const [namespace = ""] = project.path.split("/");
    return {
      id: project.id,
      description: "tack runner",
      name: project.path.split("/").at(-1),
      name_with_namespace: project.path.replaceAll("/", " / "),
      path: project.path.split("/").at(-1),
      path_with_namespace: project.path,
      created_at: "2026-01-05T10:00:00.000Z",
      default_branch: project.defaultBranch,
      visibility: "private",
      web_url: `https://gitlab.example.com/${project.path}`,
      namespace: { id: 5, name: namespace, path: namespace, kind: "group", full_path: namespace },
      ci_pipeline_variables_minimum_override_role:
        project.accessLevel >= 40 ? project.variablesRole : undefined,
      permissions: {
        project_access: { access_level: project.accessLevel, notification_level: 3 },
        group_access: null,
      },
    };
  }

  private async create(project: FakeProject, url: URL, body: unknown): Promise<Response> {
    if (!isObject(body)) {
      this.problems.push(`create without a JSON body: ${JSON.stringify(body)}`);
      return this.json(400, { error: "ref is missing" });
    }
    const ref = typeof body.ref === "string" ? body.ref : url.searchParams.get("ref");
    if (!ref) return this.json(400, { error: "ref is missing" });
    const extra = Object.keys(body).filter((key) => !["ref", "inputs", "variables"].includes(key));
    if (extra.length > 0) this.problems.push(`create with unknown fields: ${extra.join(", ")}`);
    if (project.accessLevel < 30) return this.json(403, { message: "403 Forbidden" });
    if (!project.branches.has(ref)) {
      return this.json(400, { message: { base: ["Reference not found"] } });
    }
    const variables = Array.isArray(body.variables) ? body.variables : [];
    if (body.variables !== undefined && !Array.isArray(body.variables)) {
      this.problems.push("variables is not an array of hashes");
      return this.json(400, { error: "variables is invalid" });
    }
    if (variables.length > 0 && !this.mayUseVariables(project)) {
      return this.json(400, {
        message: { base: ["Insufficient permissions to set pipeline variables"] },
      });
    }
    for (const variable of variables) {
      if (
        !isObject(variable) ||
        typeof variable.key !== "string" ||
        typeof variable.value !== "string"
      ) {
        this.problems.push(
          `a variable that is not {key, value} strings: ${JSON.stringify(variable)}`,
        );
        return this.json(400, { error: "variables[key] is missing" });
      }
    }
    const inputs = isObject(body.inputs) ? body.inputs : {};
    const problems = this.inputProblems(project, inputs);
    if (problems.length > 0) return this.json(400, { message: { base: problems } });

    const now = iso();
    const pipeline: FakePipeline = {
      id: nextPipelineId++,
      iid: this.pipelines.size + 1,
      projectId: project.id,
      ref,
      sha: "8e4a9f0c2b7d61e5a3f9c0d8b7a6e5f4c3d2b1a0",
      status: "created",
      name: this.nameTemplate(inputs),
      inputs,
      variables: variables as FakePipeline["variables"],
      created_at: now,
      updated_at: now,
      hiddenFromLists: this.listLag,
    };
    this.pipelines.set(pipeline.id, pipeline);
    this.onCreate?.(pipeline);
    const held = this.held;
    if (held) {
      this.held = undefined;
      held.arrived(pipeline);
      await held.gate;
    }
    return this.json(201, this.pipelineBody(pipeline));
  }

  private mayUseVariables(project: FakeProject): boolean {
    const needed = { no_one_allowed: 1_000, developer: 30, maintainer: 40, owner: 50 }[
      project.variablesRole
    ];
    return project.accessLevel >= needed;
  }

  /** What GitLab says about the inputs against the project's `spec: inputs:`. */
  private inputProblems(project: FakeProject, inputs: Record<string, unknown>): string[] {
    const problems: string[] = [];
    if (Object.keys(inputs).length > 20) problems.push("too many inputs (maximum 20)");
    const unknown = Object.keys(inputs).filter((key) => !project.inputs.has(key));
    if (unknown.length > 0) problems.push(`unknown input arguments: ${unknown.join(", ")}`);
    for (const [name, declared] of project.inputs) {
      const value = inputs[name];
      if (value === undefined) {
        if (declared.required)
          problems.push(`\`${name}\` input: required value has not been provided`);
        continue;
      }
      const ok = declared.type === "array" ? Array.isArray(value) : declared.type === typeof value;
      if (!ok) problems.push(`\`${name}\` input: provided value is not a ${declared.type}`);
    }
    return problems;
  }

  private list(project: FakeProject, url: URL): Response {
    const updatedAfter = url.searchParams.get("updated_after");
    let since = 0;
    if (updatedAfter !== null) {
      since = Date.parse(updatedAfter);
      if (Number.isNaN(since)) {
        this.problems.push(`list with an unparsable updated_after: ${updatedAfter}`);
        return this.json(400, { error: "updated_after is invalid" });
      }
    }
    const ref = url.searchParams.get("ref");
    const name = url.searchParams.get("name");
    const perPage = Number(url.searchParams.get("per_page") ?? "20");
    const listed = [...this.pipelines.values()]
      .filter((pipeline) => pipeline.projectId === project.id)
      .filter((pipeline) => ref === null || pipeline.ref === ref)
      .filter((pipeline) => name === null || pipeline.name === name)
      .filter((pipeline) => Date.parse(pipeline.updated_at) >= since)
      .filter((pipeline) => {
        if (pipeline.hiddenFromLists <= 0) return true;
        pipeline.hiddenFromLists--;
        return false;
      })
      .sort((a, b) => b.id - a.id)
      .slice(0, perPage);
    // The list shows fewer fields than a single pipeline.
    return this.json(
      200,
      listed.map((pipeline) => {
        const full = this.pipelineBody(pipeline);
        return {
          id: full.id,
          iid: full.iid,
          project_id: full.project_id,
          sha: full.sha,
          ref: full.ref,
          status: full.status,
          source: full.source,
          created_at: full.created_at,
          updated_at: full.updated_at,
          web_url: full.web_url,
          name: full.name,
        };
      }),
    );
  }

  private trace(project: FakeProject, jobId: number, request: Request): Response {
    const job = this.jobs.get(jobId);
    const pipeline = job ? this.pipelineIn(project, job.pipelineId) : undefined;
    if (!job || !pipeline) return this.notFound("404 Not found");
    const bytes = new TextEncoder().encode(job.trace);
    const range = /^bytes=(\d+)-$/.exec(request.headers.get("range") ?? "");
    const headers = { "content-type": "text/plain; charset=utf-8", ...this.rateHeaders() };
    if (this.honourRange && range?.[1]) {
      const start = Number(range[1]);
      if (start >= bytes.length) {
        return new Response(null, {
          status: 416,
          headers: { ...headers, "content-range": `bytes */${bytes.length}` },
        });
      }
      return new Response(bytes.subarray(start), {
        status: 206,
        headers: {
          ...headers,
          "content-range": `bytes ${start}-${bytes.length - 1}/${bytes.length}`,
        },
      });
    }
    return new Response(bytes, { status: 200, headers });
  }

  private json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
    return new Response(JSON.stringify(body), {
      status,
      headers: {
        "content-type": "application/json",
        ...this.rateHeaders(),
        ...headers,
      },
    });
  }

  private rateHeaders(): Record<string, string> {
    const reset = Math.floor(Date.now() / 1000) + 60;
    return {
      "ratelimit-limit": "2000",
      "ratelimit-observed": String(2000 - this.rateRemaining),
      "ratelimit-remaining": String(this.rateRemaining),
      "ratelimit-reset": String(reset),
      "ratelimit-resettime": new Date(reset * 1000).toUTCString(),
      "x-request-id": randomUUID().replaceAll("-", "").slice(0, 26),
    };
  }

  private notFound(message: string): Response {
    return this.json(404, { message });
  }
}

/**
 * Moves a pipeline one step as a runner would (created → running, running → success; straight
 * to success when `finish`) and returns the `Pipeline Hook` delivery GitLab sends for it.
 */
export function nextDelivery(
  fake: FakeGitlab,
  pipeline: FakePipeline,
  finish: boolean,
): { finished: boolean; body: string; headers: Record<string, string> } {
  const finished = finish || pipeline.status === "running";
  fake.setPipeline(pipeline.id, { status: finished ? "success" : "running" });
  return {
    finished,
    body: JSON.stringify(fake.pipelineHook(pipeline)),
    headers: gitlabHeaders({ event: "Pipeline Hook" }),
  };
}

/** The TACK_GITLAB_* variables that point tack at this stand-in. */
export function gitlabEnv(fake: { url: string }): Record<string, string> {
  return {
    TACK_GITLAB_TOKEN: GITLAB_TOKEN,
    TACK_GITLAB_URL: fake.url,
    TACK_GITLAB_WEBHOOK_SECRET: GITLAB_WEBHOOK_SECRET,
  };
}

export interface GitlabDelivery {
  /** "Pipeline Hook" or "Job Hook" (or anything GitLab sends). */
  event: string;
  /** Sent exactly as given (a string verbatim, anything else as JSON). */
  payload: unknown;
  /** X-Gitlab-Token; null sends none. */
  token?: string | null;
  /** Idempotency-Key (GitLab 17.4+: the same on every retry of one event); null sends none. */
  idempotencyKey?: string | null;
  /** X-Gitlab-Event-UUID; null sends none. */
  eventUuid?: string | null;
}

/** The headers GitLab sends with a webhook delivery. */
export function gitlabHeaders(delivery: Omit<GitlabDelivery, "payload">): Record<string, string> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": "GitLab/18.6.0-ee",
    "x-gitlab-event": delivery.event,
    "x-gitlab-instance": "https://gitlab.example.com",
    "x-gitlab-webhook-uuid": "0b8e6a2f-3c1d-4e5f-8a9b-7c6d5e4f3a2b",
  };
  const token = delivery.token === undefined ? GITLAB_WEBHOOK_SECRET : delivery.token;
  if (token !== null) headers["x-gitlab-token"] = token;
  const key = delivery.idempotencyKey === undefined ? randomUUID() : delivery.idempotencyKey;
  if (key !== null) headers["idempotency-key"] = key;
  const uuid = delivery.eventUuid === undefined ? randomUUID() : delivery.eventUuid;
  if (uuid !== null) headers["x-gitlab-event-uuid"] = uuid;
  return headers;
}

/** POSTs one delivery to `<baseUrl>/webhooks/gitlab`. */
export async function deliverGitlab(
  baseUrl: string,
  delivery: GitlabDelivery,
): Promise<{ status: number; body: string }> {
  const body =
    typeof delivery.payload === "string" ? delivery.payload : JSON.stringify(delivery.payload);
  const response = await fetch(`${baseUrl}/webhooks/gitlab`, {
    method: "POST",
    headers: gitlabHeaders(delivery),
    body,
  });
  return { status: response.status, body: await response.text() };
}

function iso(date: Date = new Date()): string {
  return date.toISOString();
}

/** Webhook payloads spell times "2016-08-12 15:23:28 UTC". */
function hookTime(value: string): string {
  return value.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC");
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
