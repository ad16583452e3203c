/**
 * Graceful stop stays bounded even when a CI stops answering in the middle of a spawn: the
 * trigger is left undispatched and the next start finishes it, once.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { FakeJetstream } from "../helpers/fake-jetstream.ts";
import { FakeKnot } from "../helpers/fake-knot.ts";
import { startTestTack, tempDir } from "../helpers/tack.ts";
import { followedRepo, pushTrigger } from "../helpers/tangled-network.ts";
import { until } from "../helpers/wait.ts";
import { connect } from "../helpers/ws.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

test("stop() with a spawn stuck on a silent CI API finishes in bounded time, closing sockets 1001", async () => {
  let answer = false;
  const ci = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    // Silent while `answer` is false; then a realistic create-build answer (and an empty list
    // for the lookup tack makes before creating again).
    fetch: (request) =>
      answer && request.method === "GET"
        ? Response.json([])
        : answer
          ? Response.json(
              {
                id: crypto.randomUUID(),
                number: 1,
                state: "scheduled",
                web_url: "https://buildkite.com/acme/app/builds/1",
                jobs: [],
              },
              { status: 201 },
            )
          : new Promise<Response>(() => void request),
  });
  const jetstream = FakeJetstream.start();
  const knot = FakeKnot.start();
  const dir = tempDir();
  const config = {
    jetstreamUrl: jetstream.url,
    providers: {
      buildkite: {
        token: "t",
        org: "acme",
        webhookSecret: "s",
        webhookMode: "token" as const,
        apiUrl: `http://127.0.0.1:${ci.port}`,
      },
    },
  };
  try {
    // Each bounded step of the stop waits 300 ms instead of 2 s: the bound, not its size, is
    // what this test is about.
    const service = await startTestTack({
      dir,
      config,
      overrides: { streams: { minBackoffMs: 20, maxBackoffMs: 200 }, stopStepMs: 300 },
    });
    await followedRepo(jetstream, knot);
    const rkey = pushTrigger(knot, [
      { name: "bk.yml", raw: "engine: tack\ntack:\n  buildkite: { pipeline: app }\n" },
    ]);
    await until(() => service.logs.some((l) => l.msg === "pipeline: accepted"), "trigger accepted");
    const subscriber = connect(`${service.ws}/events`);
    await subscriber.opened;

    const started = Date.now();
    await service.tack.stop();
    const took = Date.now() - started;
    expect(took).toBeLessThan(8_000); // a bound on a hang, well under main.ts's 10 s hard limit
    expect((await subscriber.closed).code).toBe(1001);

    // The CI answers again: the next start dispatches the interrupted trigger, once.
    answer = true;
    await using again = await startTestTack({
      dir,
      config,
      overrides: { streams: { minBackoffMs: 20, maxBackoffMs: 200 } },
    });
    await until(
      () =>
        again.logs.some((l) => l.msg === "dispatch: workflow spawned" && l.pipeline_rkey === rkey),
      "recovered spawn",
    );
    expect(
      again.tack.workflows.get({ knot: knot.host, pipelineRkey: rkey, name: "bk.yml" })?.status,
    ).toBe("pending");
  } finally {
    jetstream.stop();
    knot.stop();
    ci.stop(true);
  }
});
