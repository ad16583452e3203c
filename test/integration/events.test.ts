import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { connect as netConnect } from "node:net";
import { startTestTack, type TestTack } from "../helpers/tack.ts";
import { until } from "../helpers/wait.ts";
import { connect, createdOf, upgradeStatus } from "../helpers/ws.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

async function publishMany(service: TestTack, count: number, payload = "") {
  const rows = [];
  for (let i = 0; i < count; i++) {
    rows.push(service.tack.broker.publish("sh.tangled.pipeline.status", { i, payload }));
  }
  return Promise.all(rows);
}

function indexOf(frame: string): number {
  return (JSON.parse(frame) as { event: { i: number } }).event.i;
}

describe("/events", () => {
  test("frames carry rkey, nsid, event and exact created, in the upstream key order", async () => {
    await using service = await startTestTack();
    const [row] = await publishMany(service, 1);
    const client = connect(`${service.ws}/events`);
    const frame = await client.frame(0);
    expect(frame).toBe(
      `{"created":${row?.created},"event":{"i":0,"payload":""},"nsid":"sh.tangled.pipeline.status","rkey":"${row?.rkey}"}`,
    );
    client.close();
  });

  test("no cursor, cursor=0 and an unparsable cursor replay the retained log from the start", async () => {
    await using service = await startTestTack();
    await publishMany(service, 5);
    for (const query of [
      "",
      "?cursor=0",
      "?cursor=banana",
      "?cursor=12abc",
      "?cursor=-7",
      "?cursor=99999999999999999999999",
    ]) {
      const client = connect(`${service.ws}/events${query}`);
      const frames = await client.waitFor(5);
      expect(frames.map(indexOf)).toEqual([0, 1, 2, 3, 4]);
      client.close();
    }
    expect(
      service.logs.some(
        (l) => l.msg === "events: bad cursor, replaying from the start" && l.cursor === "banana",
      ),
    ).toBe(true);
  });

  test("a middle cursor sends only later events", async () => {
    await using service = await startTestTack();
    const rows = await publishMany(service, 10);
    const client = connect(`${service.ws}/events?cursor=${rows[6]?.created}`);
    const frames = await client.waitFor(3);
    expect(frames.map(indexOf)).toEqual([7, 8, 9]);
    expect(frames.map(createdOf)).toEqual(rows.slice(7).map((r) => r.created));
    client.close();
  });

  test("live events follow the backfill without gaps or repeats", async () => {
    await using service = await startTestTack();
    await publishMany(service, 3);
    const client = connect(`${service.ws}/events`);
    await client.waitFor(3);
    for (let i = 3; i < 10; i++) await service.tack.broker.publish("x", { i });
    const frames = await client.waitFor(10);
    expect(frames.map(indexOf)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    client.close();
  });

  test("events published while a large backlog drains arrive once, in order", async () => {
    await using service = await startTestTack();
    await publishMany(service, 1200);
    const client = connect(`${service.ws}/events`);
    await client.opened;
    // Publish concurrently with the page-by-page backfill.
    const more = [];
    for (let i = 1200; i < 1300; i++) more.push(service.tack.broker.publish("x", { i }));
    await Promise.all(more);
    await client.waitFor(1300);
    // A sentinel published last: once it has arrived, so has anything sent twice before it.
    await service.tack.broker.publish("x", { i: 1300 });
    const frames = await client.waitFor(1301);
    expect(frames.map(indexOf)).toEqual(Array.from({ length: 1301 }, (_, i) => i));
    client.close();
  });

  test("a backlog of 1,000 events arrives complete and in created order", async () => {
    await using service = await startTestTack();
    const rows = await publishMany(service, 1000);
    const client = connect(`${service.ws}/events`);
    const frames = await client.waitFor(1000);
    expect(frames.map(createdOf)).toEqual(rows.map((r) => r.created));
    expect(new Set(frames.map((f) => (JSON.parse(f) as { rkey: string }).rkey)).size).toBe(1000);
    client.close();
  });

  test("a live subscriber that stops reading is disconnected and never delays a healthy one", async () => {
    await using service = await startTestTack();
    const port = new URL(service.http).port;
    const stalled = netConnect({ host: "127.0.0.1", port: Number(port) });
    await new Promise<void>((resolve) => stalled.once("connect", () => resolve()));
    stalled.write(
      `GET /events?cursor=${BigInt(Date.now()) * 1_000_000n} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    const healthy = connect(`${service.ws}/events?cursor=${BigInt(Date.now()) * 1_000_000n}`);
    await healthy.opened;
    await until(() => service.tack.sockets.size === 2, "both subscribers registered");
    stalled.pause(); // from here on the stalled client reads nothing

    // ~24 MiB for the stalled socket: well past kernel buffers and the 4 MiB send limit.
    await publishMany(service, 12_000, "x".repeat(2048));
    const frames = await healthy.waitFor(12_000);
    expect(frames.map(indexOf)).toEqual(Array.from({ length: 12_000 }, (_, i) => i));
    await until(() => service.tack.sockets.size === 1, "stalled subscriber disconnected");
    healthy.close();
    stalled.destroy();
  });

  test("beyond the send-buffer cap the backed-up subscriber is closed with its cursor; a healthy one gets everything", async () => {
    await using service = await startTestTack({
      overrides: { events: { bufferCapBytes: 1 << 20, capCheckMs: 20 } },
    });
    const port = new URL(service.http).port;
    const stalled = netConnect({ host: "127.0.0.1", port: Number(port) });
    await new Promise<void>((resolve) => stalled.once("connect", () => resolve()));
    stalled.write(
      `GET /events?cursor=${BigInt(Date.now()) * 1_000_000n} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    const healthy = connect(`${service.ws}/events?cursor=${BigInt(Date.now()) * 1_000_000n}`);
    await healthy.opened;
    await until(() => service.tack.sockets.size === 2, "both subscribers registered");
    stalled.pause();
    const overCap = () =>
      service.logs.some((l) => l.msg === "events: closing a subscriber, send buffers over the cap");
    // Half a mebibyte at a time, each delivered to the healthy subscriber before the next:
    // the stalled one's buffer grows past the 1 MiB cap long before Bun's 4 MiB limit.
    let sent = 0;
    while (!overCap() && sent < 24_000) {
      await publishMany(service, 250, "x".repeat(2048));
      sent += 250;
      await healthy.waitFor(sent);
    }
    expect(overCap()).toBe(true);
    expect(service.logs.some((l) => l.msg === "events: closing stalled subscriber")).toBe(false);
    await until(() => service.tack.sockets.size === 1, "over-cap subscriber closed");
    const frames = await healthy.waitFor(sent);
    expect(frames.map(indexOf)).toEqual(Array.from({ length: sent }, (_, i) => i % 250));
    // Its stream, read now, ends with a 1013 close frame naming where to resume.
    const received: Buffer[] = [];
    stalled.on("data", (chunk: Buffer) => received.push(chunk));
    const ended = new Promise<void>((resolve) => stalled.once("close", () => resolve()));
    stalled.resume();
    await ended;
    const tail = Buffer.concat(received).subarray(-200).toString("latin1");
    expect(tail).toMatch(/too slow; resume with \?cursor=\d+/);
    healthy.close();
  });

  test("a subscriber stuck in backfill is closed with 1013 and its resume cursor", async () => {
    await using service = await startTestTack({ overrides: { events: { stallTimeoutMs: 300 } } });
    await publishMany(service, 400, "y".repeat(64 * 1024));
    const port = new URL(service.http).port;
    const stalled = netConnect({ host: "127.0.0.1", port: Number(port) });
    stalled.pause();
    stalled.write(
      `GET /events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    await until(() => service.tack.sockets.size === 1, "stalled subscriber registered");
    const healthy = connect(`${service.ws}/events`);
    expect((await healthy.waitFor(400)).length).toBe(400);
    await until(
      () => service.logs.some((l) => l.msg === "events: closing stalled subscriber"),
      "stall detected",
    );
    await until(() => service.tack.sockets.size === 1, "only the healthy subscriber left");
    // Read what the stalled client was sent: its stream ends with a close frame, code 1013,
    // whose reason names the cursor to resume from.
    const received: Buffer[] = [];
    stalled.on("data", (chunk: Buffer) => received.push(chunk));
    const ended = new Promise<void>((resolve) => stalled.once("close", () => resolve()));
    stalled.resume();
    await ended;
    const tail = Buffer.concat(received).subarray(-200);
    const reason = /too slow; resume with \?cursor=(\d+)/.exec(tail.toString("latin1"));
    expect(reason).not.toBeNull();
    const at = tail.indexOf("too slow");
    expect(tail.readUInt16BE(at - 2)).toBe(1013);
    healthy.close();
  });

  test("an idle subscriber is pinged", async () => {
    await using service = await startTestTack({ overrides: { events: { pingIntervalMs: 150 } } });
    const client = connect(`${service.ws}/events`);
    const pinged = new Promise<void>((resolve) =>
      client.socket.addEventListener("ping", () => resolve()),
    );
    await pinged;
    client.close();
  });

  test("a plain GET without upgrade is refused", async () => {
    await using service = await startTestTack();
    const response = await fetch(`${service.http}/events`);
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect((await upgradeStatus(`${service.ws}/events`)).status).toBe(101);
  });

  test("shutdown closes subscribers with 1001", async () => {
    const service = await startTestTack();
    const client = connect(`${service.ws}/events`);
    await client.opened;
    await until(() => service.tack.sockets.size === 1, "subscriber registered");
    await service[Symbol.asyncDispose]();
    expect((await client.closed).code).toBe(1001);
  });
});
