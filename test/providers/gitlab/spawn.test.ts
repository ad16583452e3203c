/**
 * Creating a GitLab pipeline: what the create request sends (inputs, never pipeline variables
 * unless asked for), how refusals read, and that an unclear answer or a crash never leads to a
 * second pipeline.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  type FakeGitlab,
  GITLAB_TOKEN,
  RUNNER_PROJECT,
  RUNNER_PROJECT_ID,
} from "../../helpers/fake-gitlab.ts";
import { tempDir } from "../../helpers/tack.ts";
import {
  dispatchGitlab,
  FAST,
  gitlabProvider,
  gitlabTack,
  KNOT,
  newWorkflowId,
  pipelineRow,
  REPO_DID,
  RUNNER_OPTIONS,
  SHA,
  serviceTarget,
  startFakeGitlab,
  statusesOf,
  until,
} from "./harness.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

const CREATE = /^\/projects\/[^/]+\/pipeline$/;

/** A fetch that forwards requests matching `dies` and then never hands the answer back. */
function dyingFetch(dies: (method: string, url: string) => boolean) {
  const forwarded = Promise.withResolvers<void>();
  const wrapped = async (input: string | URL | Request, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    const method = init?.method ?? (input instanceof Request ? input.method : "GET");
    if (!dies(method, url)) return fetch(input, init);
    await fetch(input, init);
    forwarded.resolve();
    return new Promise<Response>(() => {});
  };
  return {
    fetch: Object.assign(wrapped, { preconnect: fetch.preconnect }),
    forwarded: forwarded.promise,
  };
}

interface CreateBody {
  ref: string;
  inputs: Record<string, unknown>;
  variables?: unknown;
}

/** The body of the `index`th create request the stand-in received. */
function createBody(gitlab: FakeGitlab, index = 0): CreateBody {
  const call = gitlab.callsTo("POST", CREATE)[index];
  if (!call) throw new Error(`no create request #${index}`);
  return call.body as CreateBody;
}

describe("gitlab create", () => {
  test("a push creates one pipeline in the runner project with the Tangled context as inputs", async () => {
    const gitlab = startFakeGitlab();
    const service = await gitlabTack(gitlab);
    const id = newWorkflowId("build.yml");

    expect(await dispatchGitlab(serviceTarget(service), id)).toBe("spawned");

    const [call] = gitlab.callsTo("POST", CREATE);
    // The project's path is URL-encoded into one path segment, as GitLab requires.
    expect(call?.path).toBe("/projects/acme%2Ftangled-runner/pipeline");
    expect(call?.headers.get("private-token")).toBe(GITLAB_TOKEN);
    expect(call?.headers.get("content-type")).toBe("application/json");
    const body = createBody(gitlab);
    // No ref in the options: the runner project's default branch, looked up once.
    expect(body.ref).toBe("main");
    expect(gitlab.callsTo("GET", /^\/projects\/acme%2Ftangled-runner$/)).toHaveLength(1);
    // Inputs only: a project that forbids pipeline variables refuses any request with them.
    expect(Object.keys(body).sort()).toEqual(["inputs", "ref"]);
    expect(Object.keys(body.inputs).sort()).toEqual([
      "clone_url",
      "commit",
      "correlation_id",
      "tangled",
    ]);
    expect(body.inputs.correlation_id).toMatch(/^tack-[0-9a-f-]{36}$/);
    // The test service runs with TACK_DEV=true, so the knot is cloned over http:// (dev mode).
    expect(body.inputs.clone_url).toBe(`http://${KNOT}/${REPO_DID}/app`);
    expect(body.inputs.commit).toBe(SHA);
    expect(JSON.parse(String(body.inputs.tangled))).toEqual({
      knot: KNOT,
      repo_did: REPO_DID,
      repo_name: "app",
      clone_url: `http://${KNOT}/${REPO_DID}/app`,
      commit: SHA,
      ref: "refs/heads/main",
      event: "push",
      pipeline_rkey: id.pipelineRkey,
      workflow: "build.yml",
      correlation_id: body.inputs.correlation_id,
      source_repo_did: "",
      source_branch: "",
      target_branch: "",
      pull_request_action: "",
      pull_request_uri: "",
      manual_inputs: {},
      env: {},
    });

    // The pipeline id is stored before spawn returns; GitLab's first status is applied.
    const pipeline = gitlab.lastPipeline();
    expect(pipeline.name).toBe(`tangled ${body.inputs.correlation_id}`);
    expect(pipelineRow(service.tack.database, id.pipelineRkey)).toEqual({
      correlation_id: String(body.inputs.correlation_id),
      project: RUNNER_PROJECT,
      ref: "main",
      project_id: BigInt(RUNNER_PROJECT_ID),
      pipeline_id: BigInt(pipeline.id),
      web_url: `https://gitlab.example.com/${RUNNER_PROJECT}/-/pipelines/${pipeline.id}`,
      state: "created",
    });
    expect(service.tack.workflows.get(id)?.spawned).toBe(true);
    expect(statusesOf(service.tack.broker.store, id)).toEqual([{ status: "pending" }]);
    // Nothing was searched for: the answer named the pipeline.
    expect(gitlab.callsTo("GET", /\/pipelines$/)).toHaveLength(0);
    expect(gitlab.problems).toEqual([]);
  });

  test("the core's build variables travel in tangled.env, and are never logged", async () => {
    const gitlab = startFakeGitlab();
    const service = await gitlabTack(gitlab);
    const id = newWorkflowId();
    const workflows = service.tack.workflows;
    await workflows.create(
      id,
      {
        provider: "gitlab",
        options: RUNNER_OPTIONS,
        context: JSON.parse(
          JSON.stringify({
            kind: "push",
            push: { newSha: SHA, oldSha: "0".repeat(40), ref: "refs/heads/main" },
            repo: { defaultBranch: "main", did: REPO_DID, knot: KNOT, repo: "app" },
          }),
        ),
      },
      "pending",
    );
    const stored = workflows.get(id);
    const provider = service.tack.providers.get("gitlab");
    if (!stored || !provider) throw new Error("no workflow or provider");
    const token = "one-time-9f8e7d6c5b4a39281706";
    await provider.spawn(stored, {
      TACK_SECRETS_URL: "https://spindle.test/xrpc/secrets",
      TACK_SECRETS_TOKEN: token,
    });
    const body = createBody(gitlab);
    expect(JSON.parse(String(body.inputs.tangled)).env).toEqual({
      TACK_SECRETS_URL: "https://spindle.test/xrpc/secrets",
      TACK_SECRETS_TOKEN: token,
    });
    expect(JSON.stringify(service.logs)).not.toContain(token);
  });

  test("ref, typed extra inputs and variables from the options; a manual run's inputs replace them", async () => {
    const gitlab = startFakeGitlab();
    gitlab.runner.inputs.set("os", { type: "string", required: false });
    gitlab.runner.inputs.set("shards", { type: "number", required: false });
    gitlab.runner.inputs.set("debug", { type: "boolean", required: false });
    gitlab.runner.variablesRole = "developer";
    const service = await gitlabTack(gitlab);
    const id = newWorkflowId();
    await dispatchGitlab(
      serviceTarget(service),
      id,
      {
        project: RUNNER_PROJECT,
        ref: "release",
        inputs: { os: "linux", shards: 2, debug: false },
        variables: { DEPLOY: false, TARGET: "staging" },
      },
      {
        kind: "manual",
        manual: {
          sha: SHA,
          ref: "main",
          inputs: [
            { key: "shards", value: "4" },
            { key: "TARGET", value: "production" },
            { key: "note", value: "by hand" },
          ],
        },
        repo: { defaultBranch: "main", did: REPO_DID, knot: KNOT, repo: "app" },
      },
    );
    expect(statusesOf(service.tack.broker.store, id)).toEqual([{ status: "pending" }]);
    const body = createBody(gitlab);
    expect(body.ref).toBe("release");
    // An explicit ref needs no project lookup.
    expect(gitlab.callsTo("GET", /^\/projects\/[^/]+$/)).toHaveLength(0);
    // Types are kept (GitLab checks them); a manual "4" for a number input is sent as 4.
    expect(body.inputs).toMatchObject({ os: "linux", shards: 4, debug: false });
    expect(body.variables).toEqual([
      { key: "DEPLOY", value: "false", variable_type: "env_var" },
      { key: "TARGET", value: "production", variable_type: "env_var" },
    ]);
    expect(JSON.parse(String(body.inputs.tangled))).toMatchObject({
      event: "manual",
      ref: "refs/heads/main",
      manual_inputs: { shards: "4", TARGET: "production", note: "by hand" },
    });
    expect(gitlab.problems).toEqual([]);
  });

  test("a pull request trigger passes the PR head and branches", async () => {
    const gitlab = startFakeGitlab();
    const service = await gitlabTack(gitlab);
    await dispatchGitlab(serviceTarget(service), newWorkflowId(), RUNNER_OPTIONS, {
      kind: "pull_request",
      pullRequest: {
        action: "create",
        sourceBranch: "feature/x",
        sourceSha: SHA,
        targetBranch: "main",
      },
      repo: { defaultBranch: "main", did: REPO_DID, knot: KNOT, repo: "app" },
    });
    const { inputs } = createBody(gitlab);
    expect(inputs.commit).toBe(SHA);
    expect(JSON.parse(String(inputs.tangled))).toMatchObject({
      event: "pull_request",
      ref: "refs/heads/feature/x",
      source_branch: "feature/x",
      target_branch: "main",
      pull_request_action: "create",
    });
  });

  test("a numeric project id and TACK_GITLAB_PROJECT as the default both work", async () => {
    const gitlab = startFakeGitlab();
    const tack = gitlabProvider(gitlab, undefined, { TACK_GITLAB_PROJECT: RUNNER_PROJECT });
    const byId = newWorkflowId();
    expect(await dispatchGitlab(tack, byId, { project: RUNNER_PROJECT_ID })).toBe("spawned");
    const byDefault = newWorkflowId();
    expect(await dispatchGitlab(tack, byDefault, {})).toBe("spawned");
    expect(gitlab.callsTo("POST", CREATE).map((call) => call.path)).toEqual([
      `/projects/${RUNNER_PROJECT_ID}/pipeline`,
      "/projects/acme%2Ftangled-runner/pipeline",
    ]);
    expect(gitlab.pipelines.size).toBe(2);
  });

  test("bad options fail the workflow with a message naming the option, without calling GitLab", async () => {
    const gitlab = startFakeGitlab();
    const service = await gitlabTack(gitlab);
    const id = newWorkflowId();
    expect(await dispatchGitlab(serviceTarget(service), id, { ref: "main" })).toBe("rejected");
    expect(statusesOf(service.tack.broker.store, id)).toEqual([
      {
        status: "failed",
        error:
          'tack.gitlab.project: required, the runner project as "group/name" or its numeric id, e.g. { project: acme/tangled-runner }',
      },
    ]);
    expect(gitlab.calls).toHaveLength(0);
  });

  test("a project that locks pipeline variables down refuses tack.gitlab.variables, explained", async () => {
    const gitlab = startFakeGitlab();
    const service = await gitlabTack(gitlab);
    const id = newWorkflowId();
    expect(
      await dispatchGitlab(serviceTarget(service), id, {
        project: RUNNER_PROJECT,
        variables: { DEPLOY: "1" },
      }),
    ).toBe("spawn-failed");
    const failed = statusesOf(service.tack.broker.store, id).at(-1);
    expect(failed?.status).toBe("failed");
    expect(failed?.error).toContain("Minimum role to use pipeline variables");
    expect(failed?.error).toContain("pass the values as tack.gitlab.inputs instead");
    expect(failed?.error).toContain(
      '(HTTP 400) (POST /projects/acme%2Ftangled-runner/pipeline): "Insufficient permissions to set pipeline variables"',
    );
    expect(pipelineRow(service.tack.database, id.pipelineRkey)?.state).toBe("tack:not_created");
    expect(gitlab.pipelines.size).toBe(0);
  });

  test("a runner that does not declare tack's inputs fails the workflow with what to declare", async () => {
    const gitlab = startFakeGitlab();
    gitlab.runner.inputs.delete("tangled");
    const service = await gitlabTack(gitlab);
    const id = newWorkflowId();
    expect(await dispatchGitlab(serviceTarget(service), id)).toBe("spawn-failed");
    const failed = statusesOf(service.tack.broker.store, id).at(-1);
    expect(failed?.error).toContain(
      'needs a "spec: inputs:" header declaring correlation_id, clone_url, commit, tangled',
    );
    expect(failed?.error).toContain('"unknown input arguments: tangled"');
    // Refused: nothing was created, and nothing is retried.
    expect(gitlab.callsTo("POST", CREATE)).toHaveLength(1);
    expect(JSON.stringify(service.logs)).not.toContain(GITLAB_TOKEN);
  });

  test("an unknown ref and an unknown project are explained", async () => {
    const gitlab = startFakeGitlab();
    const service = await gitlabTack(gitlab);
    const badRef = newWorkflowId();
    await dispatchGitlab(serviceTarget(service), badRef, { project: RUNNER_PROJECT, ref: "nope" });
    expect(statusesOf(service.tack.broker.store, badRef).at(-1)?.error).toStartWith(
      `GitLab has no such branch or tag in project ${RUNNER_PROJECT}: tack.gitlab.ref names a branch or tag of the runner project`,
    );
    const badProject = newWorkflowId();
    await dispatchGitlab(serviceTarget(service), badProject, { project: "acme/nothing-here" });
    expect(statusesOf(service.tack.broker.store, badProject).at(-1)?.error).toBe(
      'GitLab does not know project acme/nothing-here, or the token cannot see it: check tack.gitlab.project and the token\'s access: GitLab API refused it (HTTP 404) (GET /projects/acme%2Fnothing-here): "404 Project Not Found"',
    );
  });

  test("a create answered 5xx is never sent again blindly: tack looks for the pipeline first", async () => {
    const gitlab = startFakeGitlab();
    gitlab.failNext("POST", CREATE, 502, 2);
    // No reconciler passes: every search seen is the create's own.
    const tack = gitlabProvider(gitlab, { ...FAST, reconcileIntervalMs: 3_600_000 });
    const id = newWorkflowId();
    expect(await dispatchGitlab(tack, id)).toBe("spawned");
    expect(gitlab.callsTo("POST", CREATE)).toHaveLength(3);
    expect(gitlab.pipelines.size).toBe(1);
    // Each repeat came after searching the runner's pipelines for this correlation id.
    const order = gitlab.calls
      .filter((call) => CREATE.test(call.path) || /\/pipelines$/.test(call.path))
      .map((call) => call.method)
      .join(" ");
    expect(order).toMatch(/^POST (GET )+POST (GET )+POST$/);
    const search = gitlab.callsTo("GET", /\/pipelines$/)[0];
    expect(search?.query.get("ref")).toBe("main");
    expect(search?.query.get("updated_after")).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    gitlab.failNext("POST", CREATE, 503, 3);
    const failing = newWorkflowId();
    expect(await dispatchGitlab(tack, failing)).toBe("spawn-failed");
    expect(tack.workflows.get(failing)?.error).toBe(
      `GitLab API failed with HTTP 503 (POST /projects/acme%2Ftangled-runner/pipeline): "503 injected"; gave up after 3 attempts, none of which GitLab lists`,
    );
  });

  test("a create answered 502 after GitLab made the pipeline adopts it instead of a second", async () => {
    const gitlab = startFakeGitlab();
    gitlab.failNext("POST", CREATE, 502, 1, { thenPerform: true });
    const tack = gitlabProvider(gitlab);
    const id = newWorkflowId();
    expect(await dispatchGitlab(tack, id)).toBe("spawned");
    expect(gitlab.callsTo("POST", CREATE)).toHaveLength(1);
    expect(gitlab.pipelines.size).toBe(1);
    expect(pipelineRow(tack.database, id.pipelineRkey)?.pipeline_id).toBe(
      BigInt(gitlab.lastPipeline().id),
    );
  });

  test("a pipeline created just before a crash is found again after the restart, despite the list delay", async () => {
    const gitlab = startFakeGitlab();
    gitlab.listLag = 3;
    const dir = tempDir();
    const dying = dyingFetch((method, url) => method === "POST" && url.endsWith("/pipeline"));
    const first = await gitlabTack(gitlab, { dir, fetch: dying.fetch });
    const id = newWorkflowId();
    void dispatchGitlab(serviceTarget(first), id);
    await dying.forwarded;
    await first[Symbol.asyncDispose]();
    expect(gitlab.pipelines.size).toBe(1);

    const second = await gitlabTack(gitlab, { dir });
    // The next start dispatches the unspawned workflow again, as trigger recovery does.
    expect(await dispatchGitlab(serviceTarget(second), id)).toBe("spawned");
    expect(gitlab.pipelines.size).toBe(1);
    expect(gitlab.callsTo("POST", CREATE)).toHaveLength(1);
    expect(pipelineRow(second.tack.database, id.pipelineRkey)?.pipeline_id).toBe(
      BigInt(gitlab.lastPipeline().id),
    );
    await until(() => second.tack.workflows.get(id)?.spawned === true, "spawned");
  });

  test("a runner whose pipeline name lacks the correlation id is warned about", async () => {
    const gitlab = startFakeGitlab();
    gitlab.nameTemplate = () => null;
    const tack = gitlabProvider(gitlab);
    expect(await dispatchGitlab(tack, newWorkflowId())).toBe("spawned");
    expect(
      tack.logs.some(
        (line) =>
          line.level === "warn" &&
          String(line.msg).includes("workflow:name") &&
          String(line.msg).includes("$[[ inputs.correlation_id ]]"),
      ),
    ).toBe(true);
  });
});
