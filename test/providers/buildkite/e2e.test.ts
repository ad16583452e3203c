/**
 * The whole path over loopback: a repo registered through a local Jetstream, a pipeline
 * trigger from a local knot whose workflow says `tack: { buildkite: … }`, the build created on
 * the Buildkite stand-in, signed webhooks back, and the statuses on /events as the appview
 * reads them.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { FakeJetstream } from "../../helpers/fake-jetstream.ts";
import { FakeKnot } from "../../helpers/fake-knot.ts";
import { followedRepo, pushTrigger } from "../../helpers/tangled-network.ts";
import { connect } from "../../helpers/ws.ts";
import { startHarness } from "./harness.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

const WORKFLOW = [
  "when:",
  "  - event: [push]",
  "    branch: main",
  "engine: tack",
  "tack:",
  "  buildkite:",
  "    pipeline: app-ci",
  "    env:",
  "      FROM_YAML: true",
  "      RETRIES: 3",
  "",
].join("\n");

test("knot trigger → Buildkite build → signed webhooks → /events", async () => {
  const jetstream = FakeJetstream.start();
  const knot = FakeKnot.start();
  try {
    await using h = await startHarness({ jetstreamUrl: jetstream.url });
    await followedRepo(jetstream, knot);

    const events = connect(`${h.service.ws}/events`);
    await events.opened;
    const rkey = pushTrigger(knot, [{ name: "ci.yml", raw: WORKFLOW }]);
    await h.until(() => h.buildRows().length === 1, "build reference stored");
    const build = h.fake.onlyBuild();
    expect(build.meta_data).toEqual({
      "tack:knot": knot.host,
      "tack:pipeline_rkey": rkey,
      "tack:workflow": "ci.yml",
    });
    expect(build.env).toMatchObject({
      RETRIES: "3",
      FROM_YAML: "true",
      TACK_REPO_NAME: "app",
      TACK_EVENT: "push",
    });
    expect(build.branch).toBe("main");

    h.fake.update(build, { state: "running" });
    expect((await h.send(h.fake.webhook("build.running", build))).status).toBe(200);
    h.fake.update(build, { state: "passed" });
    expect((await h.send(h.fake.webhook("build.finished", build))).status).toBe(200);

    const frames = await events.waitFor(3);
    const statuses = frames.map(
      (frame) =>
        (JSON.parse(frame) as { event: { status: string; pipeline: string; workflow: string } })
          .event,
    );
    expect(statuses.map((s) => s.status)).toEqual(["pending", "running", "success"]);
    for (const status of statuses) {
      expect(status.pipeline).toBe(`at://did:web:${knot.host}/sh.tangled.pipeline/${rkey}`);
      expect(status.workflow).toBe("ci.yml");
    }
    events.close();
  } finally {
    jetstream.stop();
    knot.stop();
  }
});
