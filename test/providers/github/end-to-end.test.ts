/**
 * End to end over loopback: a repo registered through Jetstream, a push trigger from the knot
 * routed to `tack: { github: … }`, the run driven by GitHub-signed webhooks, and the statuses
 * read from /events as the appview reads them.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { fastClock } from "../../helpers/clock.ts";
import { FakeJetstream } from "../../helpers/fake-jetstream.ts";
import { FakeKnot } from "../../helpers/fake-knot.ts";
import { deliverGithub } from "../../helpers/sign-github.ts";
import { startTestTack } from "../../helpers/tack.ts";
import { followedRepo, pushTrigger } from "../../helpers/tangled-network.ts";
import { OWNER } from "../../helpers/wire.ts";
import { connect } from "../../helpers/ws.ts";
import { githubConfig, runPayload, startFakeGithub, until } from "./harness.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

test("knot trigger → github dispatch → webhooks → pending, running, success on /events", async () => {
  const github = startFakeGithub();
  const jetstream = FakeJetstream.start();
  const knot = FakeKnot.start();
  try {
    await using service = await startTestTack({
      config: { jetstreamUrl: jetstream.url, providers: { github: githubConfig(github) } },
      overrides: {
        clock: fastClock(),
        streams: { minBackoffMs: 20, maxBackoffMs: 200, idleTimeoutMs: 10_000 },
      },
    });
    await followedRepo(jetstream, knot);

    const events = connect(`${service.ws}/events`);
    await events.opened;
    const rkey = pushTrigger(
      knot,
      [
        {
          name: "gh.yml",
          raw: "when:\n  - event: [push]\n    branch: main\nengine: tack\ntack:\n  github:\n    repo: acme/tangled-runner\n    workflow: tangled.yml\n",
        },
      ],
      { sha: "3f4c1e2d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d" },
    );
    await events.waitFor(1);
    await until(() => github.runs.size === 1, "dispatched");
    const run = github.lastRun();
    const tangled = JSON.parse(run.inputs.tangled ?? "{}");
    expect(tangled).toMatchObject({
      knot: knot.host,
      repo_did: OWNER,
      repo_name: "app",
      pipeline_rkey: rkey,
      workflow: "gh.yml",
      event: "push",
      ref: "refs/heads/main",
    });
    expect(run.inputs.commit).toBe("3f4c1e2d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d");

    for (const [status, conclusion] of [
      ["in_progress", null],
      ["completed", "success"],
    ] as const) {
      github.setRun(run.id, { status, conclusion });
      const result = await deliverGithub(service.http, {
        event: "workflow_run",
        payload: runPayload(github.lastRun()),
      });
      expect(result.status).toBe(200);
    }
    const frames = await events.waitFor(3);
    const statuses = frames.map(
      (frame) =>
        (JSON.parse(frame) as { event: { status: string; workflow: string; pipeline: string } })
          .event,
    );
    expect(statuses).toEqual([
      expect.objectContaining({ status: "pending", workflow: "gh.yml" }),
      expect.objectContaining({ status: "running", workflow: "gh.yml" }),
      expect.objectContaining({ status: "success", workflow: "gh.yml" }),
    ]);
    for (const status of statuses) {
      expect(status.pipeline).toBe(`at://did:web:${knot.host}/sh.tangled.pipeline/${rkey}`);
    }
    events.close();
  } finally {
    jetstream.stop();
    knot.stop();
  }
});
