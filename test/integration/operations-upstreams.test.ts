/**
 * Upstream failures are visible (#15, defect 5): warnings with the cause after repeated
 * failures, `degraded` with reasons in /healthz, a disconnected-seconds gauge to alert on, and
 * no made-up lag before the first event. And a Jetstream event dated in the future never
 * hides the present ones after it (defect 8).
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { JETSTREAM_CURSOR } from "../../src/tangled/jetstream.ts";
import { cleanupAfterEach } from "../helpers/cleanup.ts";
import { FakeJetstream } from "../helpers/fake-jetstream.ts";
import { FakeKnot } from "../helpers/fake-knot.ts";
import { startTestTack } from "../helpers/tack.ts";
import { followedRepo } from "../helpers/tangled-network.ts";
import { until } from "../helpers/wait.ts";
import { newTid, OWNER, repoRecord, sortedJson } from "../helpers/wire.ts";

setDefaultTimeout(30_000);
const defer = cleanupAfterEach();
const fastStreams = { minBackoffMs: 10, maxBackoffMs: 40 };

interface Health {
  status: string;
  reasons: string[];
  jetstream: { connected: boolean; disconnected_seconds: number | null; last_error?: string };
  knots: { followed: number; connected: number; disconnected: { knot: string; error?: string }[] };
}

async function health(http: string): Promise<{ code: number; body: Health }> {
  const response = await fetch(`${http}/healthz`);
  return { code: response.status, body: (await response.json()) as Health };
}

/** Polls /healthz until `condition` holds (a bound on a hang, not a speed assertion). */
async function healthWhen(http: string, condition: (body: Health) => boolean): Promise<Health> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const { body } = await health(http);
    if (condition(body) || Date.now() > deadline) return body;
    await Bun.sleep(20);
  }
}

test("an unreachable Jetstream: warnings with the cause, degraded health with a reason, a disconnected gauge, no lag (#15)", async () => {
  const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const url = `ws://127.0.0.1:${closed.port}/subscribe`;
  closed.stop(true);
  await using service = await startTestTack({
    config: { jetstreamUrl: url },
    overrides: { streams: fastStreams, health: { disconnectedGraceMs: 100 } },
  });
  await until(
    () => service.logs.some((l) => l.level === "warn" && l.msg === "stream: cannot connect"),
    "a warning after repeated failures",
  );
  const warning = service.logs.find((l) => l.msg === "stream: cannot connect");
  expect(warning).toMatchObject({ component: "jetstream", err: "Failed to connect", failures: 3 });
  // The first failures are not warnings yet: a single reconnect is normal churn.
  expect(
    service.logs.filter((l) => l.msg === "stream: disconnected" && l.level === "info"),
  ).toHaveLength(2);

  const body = await healthWhen(service.http, (report) => report.status !== "ok");
  expect((await health(service.http)).code).toBe(200); // degraded still serves
  expect(body.status).toBe("degraded");
  expect(body.reasons).toHaveLength(1);
  expect(body.reasons[0]).toMatch(
    /^jetstream: disconnected for \d+ s \(Failed to connect\), \d+ failed attempts$/,
  );
  expect(body.jetstream).toMatchObject({ connected: false, last_error: "Failed to connect" });

  const metrics = await (await fetch(`${service.http}/metrics`)).text();
  expect(metrics).toMatch(/^tack_jetstream_disconnected_seconds [0-9.]+$/m);
  expect(
    Number(/^tack_jetstream_disconnected_seconds ([0-9.]+)$/m.exec(metrics)?.[1]),
  ).toBeGreaterThan(0);
  expect(metrics).toMatch(/^tack_jetstream_connected 0$/m);
  expect(metrics).not.toMatch(/^tack_jetstream_lag_seconds/m);
});

test("a lost knot makes health degraded naming the knot; Jetstream's first event brings the lag gauge (#15)", async () => {
  const jetstream = FakeJetstream.start();
  const knot = FakeKnot.start();
  defer(() => jetstream.stop());
  defer(() => knot.stop());
  await using service = await startTestTack({
    config: { jetstreamUrl: jetstream.url },
    overrides: { streams: fastStreams, health: { disconnectedGraceMs: 100 } },
  });
  await until(() => jetstream.openConnections === 1, "jetstream connection");
  let metrics = await (await fetch(`${service.http}/metrics`)).text();
  expect(metrics).not.toMatch(/^tack_jetstream_lag_seconds/m);
  expect(metrics).toMatch(/^tack_jetstream_disconnected_seconds 0$/m);

  await followedRepo(jetstream, knot);
  expect((await health(service.http)).body.status).toBe("ok");
  metrics = await (await fetch(`${service.http}/metrics`)).text();
  expect(metrics).toMatch(/^tack_jetstream_lag_seconds [0-9.]+$/m);
  expect(metrics).toContain(`tack_knot_disconnected_seconds{knot="${knot.host}"} 0`);

  const host = knot.host; // the port reads 0 once the server stops
  knot.stop();
  const report = await healthWhen(service.http, (body) => body.status === "degraded");
  expect(report.status).toBe("degraded");
  expect(report.reasons).toEqual([
    expect.stringMatching(new RegExp(`^knot ${host}: disconnected for \\d+ s`)),
  ]);
  expect(report.knots).toMatchObject({
    followed: 1,
    connected: 0,
    disconnected: [{ knot: host }],
  });
});

test("a Jetstream event dated 9 minutes ahead never hides present-dated records after it (#15)", async () => {
  const jetstream = FakeJetstream.start();
  defer(() => jetstream.stop());
  await using service = await startTestTack({
    config: { jetstreamUrl: jetstream.url },
    overrides: { streams: fastStreams },
  });
  await until(() => jetstream.openConnections === 1, "jetstream connection");
  const event = (knot: string, timeUs: number) =>
    sortedJson({
      did: OWNER,
      time_us: timeUs,
      kind: "commit",
      commit: {
        rev: newTid(),
        operation: "create",
        collection: "sh.tangled.repo",
        rkey: newTid(),
        record: repoRecord({ name: knot, knot, spindle: "spindle.test" }),
        cid: "bafyreibogusbogusbogusbogusbogusbogusbogusbogusbogus",
      },
    });
  // Knots on closed loopback ports: tack may try to follow them, and reaches nothing else.
  const [future, ahead, present] = ["127.0.0.1:7", "127.0.0.1:9", "127.0.0.1:13"];
  jetstream.sendRaw(event(future, (Date.now() + 9 * 60_000) * 1000));
  jetstream.sendRaw(event(present, Date.now() * 1000));
  jetstream.sendRaw(event(ahead, (Date.now() + 20_000) * 1000));
  await until(
    () => service.tack.membership.followedKnots().includes(ahead),
    "the last repo applied",
  );
  const knots = service.tack.membership.followedKnots();
  expect(knots).not.toContain(future); // refused: beyond the allowed clock skew
  expect(knots).toContain(ahead); // applied, but the cursor did not follow it ahead
  const cursor = service.tack.database.sqlite
    .query("select cursor from cursors where source = ?")
    .get(JETSTREAM_CURSOR) as { cursor: bigint };
  expect(cursor.cursor).toBeLessThanOrEqual(BigInt(Date.now()) * 1000n);
  expect(
    service.logs.some((l) => l.msg === "jetstream: skipping an event dated in the future"),
  ).toBe(true);
});
