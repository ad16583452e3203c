/**
 * The five exactly-once and leak defects of issue 13, each reproduced through the real service
 * against the local CI stand-ins.
 *
 * A crash right after a CI answered is staged in-process: the first service's fetch forwards
 * the create request and then never returns the answer, so that service records nothing about
 * the build (as a SIGKILL would leave it); a second service opens the same database and
 * dispatches the workflow again, as the next start's trigger recovery does.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { silentLogger } from "../../src/log.ts";
import { dispatchWorkflow } from "../../src/pipeline/dispatch.ts";
import type { WorkflowId } from "../../src/pipeline/workflows.ts";
import { cleanupAfterEach } from "../helpers/cleanup.ts";
import { fastClock } from "../helpers/clock.ts";
import { FakeBuildkite } from "../helpers/fake-buildkite.ts";
import { FakeGithub, GITHUB_TOKEN } from "../helpers/fake-github.ts";
import { buildkiteHeaders } from "../helpers/sign-buildkite.ts";
import { deliverGithub, WEBHOOK_SECRET } from "../helpers/sign-github.ts";
import { startTestTack, type TestTack, tempDir } from "../helpers/tack.ts";
import { until } from "../helpers/wait.ts";
import { OWNER } from "../helpers/wire.ts";
import { publishedStatuses } from "./statuses.ts";

setDefaultTimeout(30_000);
const defer = cleanupAfterEach();

const BK_TOKEN = "bkua_0123456789abcdef0123456789abcdef01234567";
const BK_SECRET = "whsec-buildkite-regressions-0123456789";
const SHA = "3f4c1e2d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d";
const KNOT = "knot.example.com";
// Forty times faster: statuses a second apart, retries and list delays take milliseconds.
const clock = fastClock();

let rkeys = 0;
function workflowId(name: string): WorkflowId {
  rkeys++;
  return { knot: KNOT, pipelineRkey: `3m7regress${String(rkeys).padStart(3, "2")}`, name };
}

function pushContext() {
  return {
    kind: "push",
    repo: { did: OWNER, knot: KNOT, repo: "app", defaultBranch: "main" },
    push: { ref: "refs/heads/main", newSha: SHA, oldSha: "0".repeat(40) },
  };
}

function startBuildkite(): FakeBuildkite {
  const fake = FakeBuildkite.start(BK_TOKEN);
  defer(() => fake.stop());
  return fake;
}

function startGithub(): FakeGithub {
  const fake = FakeGithub.start();
  defer(() => fake.stop());
  return fake;
}

async function service(
  options: {
    dir?: string;
    buildkite?: FakeBuildkite;
    github?: FakeGithub;
    fetch?: typeof fetch;
  } = {},
): Promise<TestTack> {
  const started = await startTestTack({
    dir: options.dir,
    config: {
      providers: {
        ...(options.buildkite
          ? {
              buildkite: {
                token: BK_TOKEN,
                org: "acme",
                webhookSecret: BK_SECRET,
                webhookMode: "signature" as const,
                apiUrl: options.buildkite.url,
              },
            }
          : {}),
        ...(options.github
          ? {
              github: {
                token: GITHUB_TOKEN,
                webhookSecret: WEBHOOK_SECRET,
                apiUrl: options.github.url,
              },
            }
          : {}),
      },
    },
    overrides: { clock, ...(options.fetch ? { fetch: options.fetch } : {}) },
  });
  defer(() => started[Symbol.asyncDispose]());
  return started;
}

function dispatch(target: TestTack, id: WorkflowId, provider: string, options: unknown) {
  return dispatchWorkflow(
    { workflows: target.tack.workflows, providers: target.tack.providers, log: silentLogger },
    {
      id,
      provider,
      options: JSON.parse(JSON.stringify(options)),
      context: pushContext(),
    },
  );
}

/** A fetch that forwards requests matching `dies` and then never hands the answer back. */
function dyingFetch(dies: (method: string, url: string) => boolean): {
  fetch: typeof fetch;
  forwarded: Promise<void>;
} {
  let forwarded: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    forwarded = resolve;
  });
  const wrapped = async (input: string | URL | Request, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    const method = init?.method ?? (input instanceof Request ? input.method : "GET");
    if (!dies(method, url)) return fetch(input, init);
    await fetch(input, init);
    forwarded();
    return new Promise<Response>(() => {});
  };
  return { fetch: Object.assign(wrapped, { preconnect: fetch.preconnect }), forwarded: done };
}

function statuses(target: TestTack, id: WorkflowId) {
  return publishedStatuses(target.tack.broker.store, id);
}

async function sendBuildkite(target: TestTack, body: unknown, headers?: Record<string, string>) {
  const raw = JSON.stringify(body);
  const event = (body as { event: string }).event;
  const response = await fetch(`${target.http}/webhooks/buildkite`, {
    method: "POST",
    headers:
      headers ??
      buildkiteHeaders({
        mode: "signature",
        secret: BK_SECRET,
        event,
        body: raw,
        nowMs: clock.now(),
      }),
    body: raw,
  });
  return { status: response.status, body: await response.text() };
}

describe("exactly once (#13)", () => {
  test("a Buildkite build created just before a crash is found again, not created twice (#13)", async () => {
    const fake = startBuildkite();
    const dir = tempDir();
    const dying = dyingFetch((method, url) => method === "POST" && url.endsWith("/builds"));
    const first = await service({ dir, buildkite: fake, fetch: dying.fetch });
    const id = workflowId("bk.yml");
    void dispatch(first, id, "buildkite", { pipeline: "app" });
    await dying.forwarded;
    await first[Symbol.asyncDispose]();
    expect(fake.builds.size).toBe(1);

    const second = await service({ dir, buildkite: fake });
    expect(await dispatch(second, id, "buildkite", { pipeline: "app" })).toBe("spawned");
    expect(fake.builds.size).toBe(1);
    const row = second.tack.database.sqlite
      .query("select build_uuid from buildkite_builds where pipeline_rkey = ?")
      .get(id.pipelineRkey) as { build_uuid: string } | null;
    expect(row?.build_uuid).toBe(fake.onlyBuild().id);
  });

  test("a GitHub dispatch answered 502 after the run was created is not dispatched again (#13)", async () => {
    const github = startGithub();
    github.failNext("POST", /\/dispatches$/, 502, 1, {}, { thenPerform: true });
    const target = await service({ github });
    const id = workflowId("gh.yml");
    expect(
      await dispatch(target, id, "github", {
        repo: "acme/tangled-runner",
        workflow: "tangled.yml",
      }),
    ).toBe("spawned");
    expect(github.runs.size).toBe(1);
    const run = github.lastRun();
    await until(() => {
      const row = target.tack.database.sqlite
        .query("select run_id from github_runs where pipeline_rkey = ?")
        .get(id.pipelineRkey) as { run_id: bigint | null } | null;
      return row?.run_id === BigInt(run.id);
    }, "the one run linked");
  });

  test("a GitHub run dispatched just before a crash is found again despite the list delay (#13)", async () => {
    const github = startGithub();
    github.listLag = 3;
    const dir = tempDir();
    const dying = dyingFetch((method, url) => method === "POST" && url.endsWith("/dispatches"));
    const first = await service({ dir, github, fetch: dying.fetch });
    const id = workflowId("gh.yml");
    const options = { repo: "acme/tangled-runner", workflow: "tangled.yml" };
    void dispatch(first, id, "github", options);
    await dying.forwarded;
    await first[Symbol.asyncDispose]();
    expect(github.runs.size).toBe(1);

    const second = await service({ dir, github });
    expect(await dispatch(second, id, "github", options)).toBe("spawned");
    expect(github.runs.size).toBe(1);
  });
});

describe("only a workflow's own build moves it (#13)", () => {
  test("a signed webhook of another build carrying a copy of the meta_data is ignored (#13)", async () => {
    const fake = startBuildkite();
    const target = await service({ buildkite: fake });
    const id = workflowId("bk.yml");
    expect(await dispatch(target, id, "buildkite", { pipeline: "app" })).toBe("spawned");
    const real = fake.onlyBuild();

    // Another pipeline's build, copying the workflow's tack:* meta_data, says passed.
    const spoof = fake.webhook("build.finished", {
      ...real,
      id: crypto.randomUUID(),
      pipeline: "other",
      state: "passed",
      number: 7,
    });
    expect((await sendBuildkite(target, spoof)).status).toBe(200);
    expect(target.tack.workflows.get(id)?.status).toBe("pending");

    fake.update(real, { state: "failed" });
    expect((await sendBuildkite(target, fake.webhook("build.finished", real))).status).toBe(200);
    expect(statuses(target, id).map((s) => s.status)).toEqual(["pending", "failed"]);
  });

  test("before the build is recorded, a meta_data match must be confirmed through the API (#13)", async () => {
    const fake = startBuildkite();
    const target = await service({ buildkite: fake });
    const hold = fake.holdNextCreate();
    const id = workflowId("bk.yml");
    const dispatched = dispatch(target, id, "buildkite", { pipeline: "app" });
    const real = await hold.created;

    const spoof = fake.webhook("build.finished", {
      ...real,
      id: crypto.randomUUID(),
      pipeline: "other",
      state: "passed",
      number: 9,
    });
    expect((await sendBuildkite(target, spoof)).status).toBe(200);
    expect(target.tack.workflows.get(id)?.status).toBe("pending");

    fake.update(real, { state: "running" });
    expect((await sendBuildkite(target, fake.webhook("build.running", real))).status).toBe(200);
    expect(target.tack.workflows.get(id)?.status).toBe("running");
    hold.release();
    expect(await dispatched).toBe("spawned");
  });
});

describe("replays are recognised (#13)", () => {
  test("a Buildkite delivery replayed with another header spelling is a duplicate (#13)", async () => {
    const fake = startBuildkite();
    const target = await service({ buildkite: fake });
    const id = workflowId("bk.yml");
    await dispatch(target, id, "buildkite", { pipeline: "app" });
    const build = fake.onlyBuild();
    fake.update(build, { state: "running" });
    const body = fake.webhook("build.running", build);
    const raw = JSON.stringify(body);
    const headers = buildkiteHeaders({
      mode: "signature",
      secret: BK_SECRET,
      event: "build.running",
      body: raw,
      nowMs: clock.now(),
    });
    expect(await sendBuildkite(target, body, headers)).toEqual({ status: 200, body: "ok\n" });
    const signature = headers["x-buildkite-signature"] ?? "";
    const variants = [
      {
        ...headers,
        "x-buildkite-signature": signature.replace(
          /signature=([0-9a-f]+)/,
          (_m, hex: string) => `signature=${hex.toUpperCase()}`,
        ),
      },
      { ...headers, "x-buildkite-signature": `${signature},x=1` },
      { ...headers, "x-buildkite-event": "build.scheduled" },
    ];
    for (const variant of variants) {
      expect(await sendBuildkite(target, body, variant)).toEqual({
        status: 200,
        body: "duplicate\n",
      });
    }
  });

  test("a GitHub delivery id seen before is not applied again, whatever its body (#13)", async () => {
    const github = startGithub();
    const target = await service({ github });
    const id = workflowId("gh.yml");
    await dispatch(target, id, "github", { repo: "acme/tangled-runner", workflow: "tangled.yml" });
    const run = github.lastRun();
    const payload = (status: string, conclusion: string | null) => ({
      action: status === "completed" ? "completed" : "in_progress",
      workflow_run: {
        id: run.id,
        display_title: run.display_title,
        status,
        conclusion,
        html_url: `https://github.com/acme/tangled-runner/actions/runs/${run.id}`,
      },
      repository: { full_name: "acme/tangled-runner" },
    });
    const delivery = crypto.randomUUID();
    const first = await deliverGithub(target.http, {
      event: "workflow_run",
      payload: payload("in_progress", null),
      delivery,
    });
    expect(first.status).toBe(200);
    const again = await deliverGithub(target.http, {
      event: "workflow_run",
      payload: payload("completed", "success"),
      delivery,
    });
    expect(again).toMatchObject({ status: 200, body: "duplicate delivery\n" });
    expect(target.tack.workflows.get(id)?.status).toBe("running");
  });
});

describe("CI error text is not published as-is (#13)", () => {
  test("a refusal echoing the token is published in tack's words, bounded and redacted (#13)", async () => {
    const fake = startBuildkite();
    const target = await service({ buildkite: fake });
    fake.answerNext("POST", /\/builds$/, {
      status: 422,
      body: {
        message: `Validation Failed\u001b[31m: Authorization: Bearer ${BK_TOKEN} ${"x".repeat(5_000)}`,
      },
    });
    const id = workflowId("bk.yml");
    expect(await dispatch(target, id, "buildkite", { pipeline: "app" })).toBe("spawn-failed");
    const error = statuses(target, id).at(-1)?.error ?? "";
    expect(error).not.toContain(BK_TOKEN);
    expect(error).not.toContain("\u001b");
    expect(error.length).toBeLessThan(600);
    expect(error).toContain("Buildkite");
    expect(JSON.stringify(target.logs)).not.toContain(BK_TOKEN);
  });
});
