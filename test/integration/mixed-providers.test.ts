/**
 * One Tangled pipeline, every CI: workflows routed to Buildkite, GitHub Actions, GitLab CI,
 * builds.sr.ht and the fake provider, each CI driven the way it reports (signed webhooks;
 * sourcehut's polls, hurried by its completion trigger), all reported on /events against the
 * same pipeline AT-URI.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { fastClock } from "../helpers/clock.ts";
import { FakeBuildkite } from "../helpers/fake-buildkite.ts";
import { FakeGithub, GITHUB_TOKEN } from "../helpers/fake-github.ts";
import { FakeGitlab, nextDelivery, RUNNER_PROJECT } from "../helpers/fake-gitlab.ts";
import { FakeJetstream } from "../helpers/fake-jetstream.ts";
import { FakeKnot } from "../helpers/fake-knot.ts";
import { FakeSourcehut } from "../helpers/fake-sourcehut.ts";
import { buildkiteHeaders } from "../helpers/sign-buildkite.ts";
import { deliverGithub, WEBHOOK_SECRET } from "../helpers/sign-github.ts";
import { startTestTack } from "../helpers/tack.ts";
import { followedRepo, pushTrigger } from "../helpers/tangled-network.ts";
import { until } from "../helpers/wait.ts";
import { connect } from "../helpers/ws.ts";
import { runPayload } from "../providers/github/harness.ts";
import { gitlabConfig } from "../providers/gitlab/harness.ts";
import { nudgeTack, SOURCEHUT_WORKFLOW, sourcehutConfig } from "../providers/sourcehut/harness.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

const BK_SECRET = "whsec-mixed-0123456789";

test("a pipeline with a workflow on every provider reports them all on /events", async () => {
  const clock = fastClock();
  const jetstream = FakeJetstream.start();
  const knot = FakeKnot.start();
  const buildkite = FakeBuildkite.start();
  const github = FakeGithub.start();
  const gitlab = FakeGitlab.start();
  const sourcehut = FakeSourcehut.start();
  try {
    await using service = await startTestTack({
      config: {
        jetstreamUrl: jetstream.url,
        providers: {
          buildkite: {
            token: buildkite.token,
            org: "acme",
            webhookSecret: BK_SECRET,
            webhookMode: "signature",
            apiUrl: buildkite.url,
          },
          github: { token: GITHUB_TOKEN, webhookSecret: WEBHOOK_SECRET, apiUrl: github.url },
          gitlab: gitlabConfig(gitlab),
          sourcehut: sourcehutConfig(sourcehut),
        },
      },
      // A clock that runs fast for everyone alike (providers' background polls included), so
      // webhook signatures dated with it stay inside Buildkite's five-minute window.
      overrides: {
        clock,
        streams: { minBackoffMs: 20, maxBackoffMs: 200, idleTimeoutMs: 10_000 },
      },
    });
    await followedRepo(jetstream, knot);
    const events = connect(`${service.ws}/events`);
    await events.opened;

    const rkey = pushTrigger(knot, [
      { name: "bk.yml", raw: "engine: tack\ntack:\n  buildkite: { pipeline: app-ci }\n" },
      {
        name: "gh.yml",
        raw: "engine: tack\ntack:\n  github: { repo: acme/tangled-runner, workflow: tangled.yml }\n",
      },
      { name: "gl.yml", raw: `engine: tack\ntack:\n  gitlab: { project: ${RUNNER_PROJECT} }\n` },
      { name: "srht.yml", raw: SOURCEHUT_WORKFLOW },
      { name: "fake.yml", raw: "engine: tack\ntack:\n  fake: { result: timeout }\n" },
    ]);
    await until(
      () =>
        buildkite.builds.size === 1 &&
        github.runs.size === 1 &&
        gitlab.pipelines.size === 1 &&
        sourcehut.jobs.size === 1,
      "every CI received its build",
    );

    // Buildkite: running, then passed.
    const build = buildkite.onlyBuild();
    for (const [state, event] of [
      ["running", "build.running"],
      ["passed", "build.finished"],
    ] as const) {
      buildkite.update(build, { state });
      const body = JSON.stringify(buildkite.webhook(event, build));
      const response = await fetch(`${service.http}/webhooks/buildkite`, {
        method: "POST",
        headers: buildkiteHeaders({
          mode: "signature",
          secret: BK_SECRET,
          event,
          body,
          nowMs: clock.now(),
        }),
        body,
      });
      expect(response.status).toBe(200);
    }
    // GitHub: in progress, then failed.
    const run = github.lastRun();
    for (const [status, conclusion] of [
      ["in_progress", null],
      ["completed", "failure"],
    ] as const) {
      github.setRun(run.id, { status, conclusion });
      expect(
        (
          await deliverGithub(service.http, {
            event: "workflow_run",
            payload: runPayload(github.lastRun()),
          })
        ).status,
      ).toBe(200);
    }

    // GitLab: running, then success.
    const pipeline = gitlab.lastPipeline();
    for (const finish of [false, true]) {
      const delivery = nextDelivery(gitlab, pipeline, finish);
      const response = await fetch(`${service.http}/webhooks/gitlab`, {
        method: "POST",
        headers: delivery.headers,
        body: delivery.body,
      });
      expect(response.status).toBe(200);
    }

    const uri = `at://did:web:${knot.host}/sh.tangled.pipeline/${rkey}`;
    const statusesOf = (workflow: string) =>
      events.frames
        .map(
          (frame) =>
            (JSON.parse(frame) as { event: { pipeline: string; workflow: string; status: string } })
              .event,
        )
        .filter((status) => status.pipeline === uri && status.workflow === workflow)
        .map((status) => status.status);

    // sourcehut: a runner takes the job, then it fails; each time the completion trigger makes
    // tack poll at once.
    const job = sourcehut.lastJob();
    sourcehut.start(job.id);
    await nudgeTack(service.http, job);
    await until(() => statusesOf("srht.yml").includes("running"), "sourcehut job running");
    sourcehut.runToEnd(job.id, "FAILED");
    await nudgeTack(service.http, job);
    await until(
      () =>
        statusesOf("bk.yml").includes("success") &&
        statusesOf("gh.yml").includes("failed") &&
        statusesOf("gl.yml").includes("success") &&
        statusesOf("fake.yml").includes("timeout") &&
        statusesOf("srht.yml").includes("failed"),
      "all finished",
    );
    expect(statusesOf("bk.yml")).toEqual(["pending", "running", "success"]);
    expect(statusesOf("gh.yml")).toEqual(["pending", "running", "failed"]);
    expect(statusesOf("gl.yml")).toEqual(["pending", "running", "success"]);
    expect(statusesOf("fake.yml")).toEqual(["pending", "running", "timeout"]);
    expect(statusesOf("srht.yml")).toEqual(["pending", "running", "failed"]);
    events.close();
  } finally {
    jetstream.stop();
    knot.stop();
    buildkite.stop();
    github.stop();
    gitlab.stop();
    sourcehut.stop();
  }
});
