/**
 * Unauthenticated webhook bodies cannot pile up in memory (#15, defect 7): concurrent bodies
 * are capped (503 with Retry-After beyond the cap, before reading) and a body that trickles in
 * too slowly is cut off (408), freeing its slot. Slow senders are raw TCP clients that send
 * headers and part of a body, then nothing.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { cleanupAfterEach } from "../helpers/cleanup.ts";
import { startTestTack } from "../helpers/tack.ts";
import { until } from "../helpers/wait.ts";

setDefaultTimeout(30_000);
const defer = cleanupAfterEach();

const buildkite = {
  token: "bkua_test",
  org: "acme",
  webhookSecret: "the-webhook-token",
  webhookMode: "token" as const,
  apiUrl: "http://127.0.0.1:1",
};

/** A sender that announces `length` bytes, sends 10, and stalls; resolves its raw answer. */
async function slowSender(port: number, length = 100_000) {
  let answer = "";
  const answered = Promise.withResolvers<string>();
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(_socket, data) {
        answer += new TextDecoder().decode(data);
        if (answer.includes("\r\n\r\n")) answered.resolve(answer);
      },
      close() {
        answered.resolve(answer);
      },
    },
  });
  defer(() => socket.end());
  socket.write(
    `POST /webhooks/buildkite HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n{"event":`,
  );
  return { answer: answered.promise };
}

test("beyond the in-flight budget, webhook POSTs get 503 with Retry-After; a stalled body gets 408 and frees its slot (#15)", async () => {
  await using service = await startTestTack({
    config: { providers: { buildkite } },
    // Room for three of the 100 kB uploads below, and not one byte more.
    overrides: { webhookBodies: { maxInFlightBytes: 300_000, bodyTimeoutMs: 1_000 } },
  });
  const port = service.tack.port;
  const stalled = [await slowSender(port), await slowSender(port), await slowSender(port)];
  // Each stalled sender holds a slot once its request reached tack.
  await until(() => service.tack.app.server?.pendingRequests === 3, "three uploads in flight");

  const busy = await fetch(`${service.http}/webhooks/buildkite`, { method: "POST", body: "{}" });
  expect(busy.status).toBe(503);
  expect(busy.headers.get("retry-after")).toBe("5");
  expect(await busy.text()).toBe("too many webhook deliveries in flight; retry later\n");
  // Other routes are not affected by the cap, nor are webhooks no provider takes (their
  // bodies are never read).
  expect((await fetch(`${service.http}/healthz`)).status).toBe(200);
  const unknown = await fetch(`${service.http}/webhooks/nosuch`, { method: "POST", body: "{}" });
  expect(unknown.status).toBe(404);

  for (const sender of stalled) expect(await sender.answer).toStartWith("HTTP/1.1 408");

  // Slots are free again: a delivery goes through to verification (a wrong token: 401).
  const after = await fetch(`${service.http}/webhooks/buildkite`, {
    method: "POST",
    headers: { "x-buildkite-token": "wrong", "content-type": "application/json" },
    body: JSON.stringify({ event: "ping" }),
  });
  expect(after.status).toBe(401);
  const metrics = await (await fetch(`${service.http}/metrics`)).text();
  expect(metrics).toContain('tack_webhooks_total{provider="buildkite",result="busy"} 1');
  expect(metrics).toContain('tack_webhooks_total{provider="buildkite",result="timeout"} 3');
});

test("a webhook within the limits reaches its provider with its exact bytes; a burst of small ones fits", async () => {
  await using service = await startTestTack({ config: { providers: { buildkite } } });
  const body = JSON.stringify({ event: "ping", service: { id: "x" } });
  const response = await fetch(`${service.http}/webhooks/buildkite`, {
    method: "POST",
    headers: { "x-buildkite-token": buildkite.webhookSecret, "content-type": "application/json" },
    body,
  });
  expect(response.status).toBe(200);
  // 200 at once, as a busy CI may send them, all reach verification; and their slots are
  // freed, so the next 200 do too.
  for (let round = 0; round < 2; round++) {
    const burst = await Promise.all(
      Array.from({ length: 200 }, () =>
        fetch(`${service.http}/webhooks/buildkite`, {
          method: "POST",
          headers: { "x-buildkite-token": "wrong" },
          body,
        }),
      ),
    );
    expect(burst.map((response) => response.status)).toEqual(burst.map(() => 401));
  }
});
