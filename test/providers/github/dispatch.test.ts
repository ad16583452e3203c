/**
 * Spawning a GitHub workflow: what the dispatch sends, and how the run id is learned (from the
 * dispatch answer, or by the correlation id in the run's title), through the real service.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { API_VERSION, GITHUB_TOKEN, RUNNER_REPO } from "../../helpers/fake-github.ts";
import {
  dispatchGithub,
  githubProvider,
  githubTack,
  KNOT,
  newWorkflowId,
  REPO_DID,
  RUNNER_OPTIONS,
  SHA,
  serviceTarget,
  startFakeGithub,
  statusesOf,
} from "./harness.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

function runRow(
  service: { tack: { database: { sqlite: import("bun:sqlite").Database } } },
  pipelineRkey: string,
) {
  return service.tack.database.sqlite
    .query(
      "select correlation_id, run_id, html_url, state, repo, workflow_file from github_runs where pipeline_rkey = ?",
    )
    .get(pipelineRkey) as {
    correlation_id: string;
    run_id: bigint | null;
    html_url: string | null;
    state: string | null;
    repo: string;
    workflow_file: string;
  } | null;
}

describe("github dispatch", () => {
  test("sends workflow_dispatch with the Tangled context as inputs and the right headers", async () => {
    const github = startFakeGithub();
    const service = await githubTack(github);
    const id = newWorkflowId("build.yml");

    expect(await dispatchGithub(serviceTarget(service), id)).toBe("spawned");

    const [call] = github.callsTo("POST", /\/dispatches$/);
    expect(call?.path).toBe(`/repos/${RUNNER_REPO}/actions/workflows/tangled.yml/dispatches`);
    expect(call?.headers.get("authorization")).toBe(`Bearer ${GITHUB_TOKEN}`);
    expect(call?.headers.get("accept")).toBe("application/vnd.github+json");
    expect(call?.headers.get("x-github-api-version")).toBe(API_VERSION);
    expect(call?.headers.get("content-type")).toBe("application/json");
    const body = github.dispatched[0];
    if (!body) throw new Error("no dispatch");
    // No ref in the options: the runner repository's default branch, looked up once.
    expect(body.ref).toBe("main");
    expect(github.callsTo("GET", new RegExp(`^/repos/${RUNNER_REPO}$`))).toHaveLength(1);
    expect(body.returnRunDetails).toBe(true);
    expect(body.fields.sort()).toEqual(["inputs", "ref", "return_run_details"]);
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
    expect(JSON.parse(body.inputs.tangled ?? "")).toEqual({
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
    expect(github.problems).toEqual([]);
  });

  test("learns the run id from the dispatch answer and stores it before spawn returns", async () => {
    const github = startFakeGithub();
    const service = await githubTack(github);
    const id = newWorkflowId();
    await dispatchGithub(serviceTarget(service), id);

    const run = github.lastRun();
    const row = runRow(service, id.pipelineRkey);
    expect(row).toMatchObject({
      run_id: BigInt(run.id),
      html_url: `https://github.com/${RUNNER_REPO}/actions/runs/${run.id}`,
      repo: RUNNER_REPO,
      workflow_file: "tangled.yml",
    });
    expect(row?.correlation_id).toBe(run.inputs.correlation_id ?? "");
    // No search was needed.
    expect(github.callsTo("GET", /\/runs$/)).toHaveLength(0);
    expect(service.tack.workflows.get(id)?.spawned).toBe(true);
  });

  test("a token GitHub says lapses within a week is warned about in the log, once a day", async () => {
    const github = startFakeGithub();
    const tack = githubProvider(github);
    const inThreeDays = new Date(tack.clock.now() + 3 * 24 * 60 * 60_000);
    github.tokenExpiration = `${inThreeDays.toISOString().replace("T", " ").slice(0, 19)} UTC`;
    await dispatchGithub(tack, newWorkflowId("a.yml"));
    await dispatchGithub(tack, newWorkflowId("b.yml"));
    const warnings = tack.logs.filter((line) => String(line.msg).includes("expires soon"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      level: "warn",
      expires_at: `${inThreeDays.toISOString().slice(0, 19)}.000Z`,
    });
    expect(JSON.stringify(tack.logs)).not.toContain(GITHUB_TOKEN);
  });

  test("finds the run by the correlation id in its title when GitHub returns no id", async () => {
    const github = startFakeGithub();
    github.dispatchMode = "no-content";
    const service = await githubTack(github);
    const id = newWorkflowId();
    await dispatchGithub(serviceTarget(service), id);

    const run = github.lastRun();
    expect(run.display_title).toBe(`tangled ${run.inputs.correlation_id}`);
    expect(runRow(service, id.pipelineRkey)?.run_id).toBe(BigInt(run.id));
    const [search] = github.callsTo("GET", /\/actions\/workflows\/tangled\.yml\/runs$/);
    expect(search?.query.get("event")).toBe("workflow_dispatch");
    expect(search?.query.get("created")).toMatch(/^>=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(github.problems).toEqual([]);
  });

  test("keeps searching while GitHub does not list the new run yet, and ignores other runs", async () => {
    const github = startFakeGithub();
    github.dispatchMode = "no-content";
    github.listLag = 2;
    const tack = githubProvider(github);
    // Someone else's run of the same workflow, listed right away.
    github.runName = () => "tangled tack-11111111-2222-4333-8444-555555555555";
    const other = newWorkflowId("other.yml");
    await dispatchGithub(tack, other);
    github.runName = (inputs) => `tangled ${inputs.correlation_id}`;

    const id = newWorkflowId();
    expect(await dispatchGithub(tack, id)).toBe("spawned");
    const run = github.lastRun();
    const searches = github.callsTo("GET", /\/runs$/);
    expect(searches.length).toBeGreaterThanOrEqual(3);
    const row = tack.database.sqlite
      .query("select run_id from github_runs where pipeline_rkey = ?")
      .get(id.pipelineRkey) as { run_id: bigint };
    expect(row.run_id).toBe(BigInt(run.id));
  });

  test("an API that refuses return_run_details (older GHES) is asked again without it", async () => {
    const github = startFakeGithub();
    github.dispatchMode = "reject-flag";
    const service = await githubTack(github);
    const first = newWorkflowId();
    await dispatchGithub(serviceTarget(service), first);
    const second = newWorkflowId();
    await dispatchGithub(serviceTarget(service), second);

    const flagged = github
      .callsTo("POST", /\/dispatches$/)
      .map(
        (call) =>
          typeof call.body === "object" && call.body !== null && "return_run_details" in call.body,
      );
    // Flag refused once, then never sent again.
    expect(flagged).toEqual([true, false, false]);
    expect(github.runs.size).toBe(2);
    for (const id of [first, second]) {
      const row = runRow(service, id.pipelineRkey);
      expect(row?.run_id).toBe(BigInt(github.runFor(row?.correlation_id ?? "")?.id ?? 0));
    }
  });

  test("ref and extra inputs from the options are passed through", async () => {
    const github = startFakeGithub();
    github.declaredInputs.add("os");
    github.declaredInputs.add("debug");
    const service = await githubTack(github);
    const id = newWorkflowId();
    await dispatchGithub(serviceTarget(service), id, {
      ...RUNNER_OPTIONS,
      ref: "release",
      inputs: { os: "linux", debug: true },
    });
    const body = github.dispatched[0];
    if (!body) throw new Error("no dispatch");
    expect(body.ref).toBe("release");
    expect(body.inputs.os).toBe("linux");
    expect(body.inputs.debug).toBe("true");
    // An explicit ref needs no repository lookup.
    expect(github.callsTo("GET", new RegExp(`^/repos/${RUNNER_REPO}$`))).toHaveLength(0);
  });

  test("a numeric workflow id is dispatched by id", async () => {
    const github = startFakeGithub();
    const service = await githubTack(github);
    await dispatchGithub(serviceTarget(service), newWorkflowId(), {
      repo: RUNNER_REPO,
      workflow: 4242,
    });
    expect(github.callsTo("POST", /\/dispatches$/)[0]?.path).toBe(
      `/repos/${RUNNER_REPO}/actions/workflows/4242/dispatches`,
    );
  });

  test("a pull request trigger passes the PR head and branches", async () => {
    const github = startFakeGithub();
    const service = await githubTack(github);
    await dispatchGithub(serviceTarget(service), newWorkflowId(), RUNNER_OPTIONS, {
      kind: "pull_request",
      pullRequest: {
        action: "create",
        sourceBranch: "feature/x",
        sourceSha: SHA,
        targetBranch: "main",
      },
      repo: { defaultBranch: "main", did: REPO_DID, knot: KNOT, repo: "app" },
    });
    const inputs = github.dispatched[0]?.inputs ?? {};
    expect(inputs.commit).toBe(SHA);
    expect(JSON.parse(inputs.tangled ?? "")).toMatchObject({
      event: "pull_request",
      ref: "refs/heads/feature/x",
      source_branch: "feature/x",
      target_branch: "main",
      pull_request_action: "create",
    });
  });

  test("bad options fail the workflow with a message naming the option, without calling GitHub", async () => {
    const github = startFakeGithub();
    const service = await githubTack(github);
    const id = newWorkflowId();
    expect(await dispatchGithub(serviceTarget(service), id, { workflow: "tangled.yml" })).toBe(
      "rejected",
    );
    expect(statusesOf(service.tack.broker.store, id)).toEqual([
      {
        status: "failed",
        error:
          'tack.github.repo: required, the runner repository as "owner/name", e.g. { repo: acme/tangled-runner, workflow: tangled.yml }',
      },
    ]);
    expect(github.calls).toHaveLength(0);
  });

  test("a dispatch GitHub refuses fails the workflow with GitHub's reason and what to fix", async () => {
    const github = startFakeGithub();
    github.declaredInputs.delete("tangled");
    const service = await githubTack(github);
    const id = newWorkflowId();
    expect(await dispatchGithub(serviceTarget(service), id)).toBe("spawn-failed");
    const [pending, failed] = statusesOf(service.tack.broker.store, id);
    expect(pending?.status).toBe("pending");
    expect(failed?.status).toBe("failed");
    expect(failed?.error).toContain(
      "declaring the inputs correlation_id, clone_url, commit and tangled",
    );
    expect(failed?.error).toContain("(HTTP 422)");
    expect(failed?.error).toContain('"Unexpected inputs provided: ["tangled"]"');
    expect(runRow(service, id.pipelineRkey)?.state).toBe("tack:not_dispatched");
    expect(JSON.stringify(service.logs)).not.toContain(GITHUB_TOKEN);
  });

  test("an unknown workflow file is explained", async () => {
    const github = startFakeGithub();
    const service = await githubTack(github);
    const id = newWorkflowId();
    await dispatchGithub(serviceTarget(service), id, { repo: RUNNER_REPO, workflow: "nope.yml" });
    const failed = statusesOf(service.tack.broker.store, id).at(-1);
    expect(failed?.status).toBe("failed");
    expect(failed?.error).toStartWith(`GitHub does not know workflow "nope.yml" in ${RUNNER_REPO}`);
  });

  test("a dispatch answered 5xx is never sent again blindly: tack looks for the run first", async () => {
    const github = startFakeGithub();
    github.failNext("POST", /\/dispatches$/, 502, 2);
    const tack = githubProvider(github);
    const id = newWorkflowId();
    expect(await dispatchGithub(tack, id)).toBe("spawned");
    expect(github.callsTo("POST", /\/dispatches$/)).toHaveLength(3);
    expect(github.runs.size).toBe(1);
    // Each repeat came after searching the runner's runs for this correlation id.
    const order = github.calls
      .filter((call) => /\/dispatches$|\/tangled\.yml\/runs$/.test(call.path))
      .map((call) => call.method)
      .join(" ");
    // (The reconciler may list runs too, before and after: only what lies between matters.)
    expect(order).toMatch(/^(GET )*POST (GET )+POST (GET )+POST( GET)*$/);

    github.failNext("POST", /\/dispatches$/, 503, 3);
    const failing = newWorkflowId();
    expect(await dispatchGithub(tack, failing)).toBe("spawn-failed");
    expect(tack.workflows.get(failing)?.error).toBe(
      `GitHub API failed with HTTP 503 (POST /repos/${RUNNER_REPO}/actions/workflows/tangled.yml/dispatches): "injected 503"; gave up after 3 attempts, none of which GitHub lists`,
    );
  });
});
