import { expect, test } from "bun:test";
import type { Server, ServerWebSocket } from "bun";
import { silentLogger } from "../../src/log.ts";
import { backoffDelay, ReconnectingStream } from "../../src/tangled/ws-client.ts";
import { cleanupAfterEach } from "../helpers/cleanup.ts";
import { captureLogger } from "../helpers/tack.ts";
import { until } from "../helpers/wait.ts";

const defer = cleanupAfterEach();

/** A server that records each connection's URL and lets the test talk to the latest socket. */
function server(onOpen: (ws: ServerWebSocket<{ url: string }>, index: number) => void) {
  const urls: string[] = [];
  const srv: Server<{ url: string }> = Bun.serve<{ url: string }>({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request, s) =>
      s.upgrade(request, { data: { url: request.url } })
        ? undefined
        : new Response("no", { status: 400 }),
    websocket: {
      open: (ws) => {
        urls.push(ws.data.url);
        onOpen(ws, urls.length - 1);
      },
      message: () => {},
    },
  });
  defer(() => srv.stop(true));
  return { urls, base: `ws://127.0.0.1:${srv.port}/` };
}

test("handles messages one at a time, in order, and rebuilds the URL on every reconnect", async () => {
  let cursor = 0;
  const seen: number[] = [];
  const { urls, base } = server((ws, index) => {
    if (index === 0) {
      for (let i = 1; i <= 5; i++) ws.send(String(i));
      ws.terminate();
    } else {
      ws.send("6");
    }
  });
  let active = 0;
  const stream = new ReconnectingStream({
    url: () => `${base}?cursor=${cursor}`,
    onMessage: async (data) => {
      active++;
      expect(active).toBe(1);
      await Bun.sleep(2);
      seen.push(Number(data));
      cursor = Number(data);
      active--;
    },
    log: silentLogger,
    minBackoffMs: 10,
    maxBackoffMs: 20,
  });
  defer(() => stream.stop());
  stream.start();
  await until(() => seen.length === 6, "six messages");
  expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
  expect(urls[0]).toEndWith("?cursor=0");
  expect(urls[1]).toEndWith("?cursor=5"); // the stored cursor at reconnect time, not the first one
});

test("a handler failure drops the connection so the event comes again", async () => {
  const { urls, base } = server((ws) => ws.send("event"));
  let attempts = 0;
  const stream = new ReconnectingStream({
    url: () => base,
    onMessage: async () => {
      attempts++;
      if (attempts === 1) throw new Error("database is locked");
    },
    log: silentLogger,
    minBackoffMs: 10,
    maxBackoffMs: 20,
  });
  defer(() => stream.stop());
  stream.start();
  await until(() => attempts === 2, "redelivery");
  expect(urls.length).toBe(2);
});

test("the idle watchdog reconnects a silent connection", async () => {
  const { urls, base } = server(() => {});
  const stream = new ReconnectingStream({
    url: () => base,
    onMessage: async () => {},
    log: silentLogger,
    minBackoffMs: 10,
    maxBackoffMs: 20,
    idleTimeoutMs: 100,
  });
  defer(() => stream.stop());
  stream.start();
  await until(() => urls.length >= 3, "two reconnects after idling");
});

test("a refused connection is retried until it succeeds", async () => {
  const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("x") });
  const port = closed.port;
  closed.stop(true);
  let attempts = 0;
  const stream = new ReconnectingStream({
    url: () => {
      attempts++;
      return `ws://127.0.0.1:${port}/`;
    },
    onMessage: async () => {},
    log: silentLogger,
    minBackoffMs: 10,
    maxBackoffMs: 40,
  });
  defer(() => stream.stop());
  stream.start();
  await until(() => attempts >= 5, "five attempts");
});

test("backoff doubles from the minimum, is capped, and jitters below the cap", () => {
  expect(backoffDelay(0, 1_000, 60_000, 1)).toBe(1_000);
  expect(backoffDelay(1, 1_000, 60_000, 1)).toBe(2_000);
  expect(backoffDelay(5, 1_000, 60_000, 1)).toBe(32_000);
  expect(backoffDelay(6, 1_000, 60_000, 1)).toBe(60_000);
  expect(backoffDelay(500, 1_000, 60_000, 1)).toBe(60_000);
  expect(backoffDelay(6, 1_000, 60_000, 0)).toBe(500);
  expect(backoffDelay(6, 1_000, 60_000, 0.5)).toBe(30_250);
});

test("a URL the WebSocket client refuses is logged and retried, never thrown", async () => {
  const { log, lines } = captureLogger();
  let attempts = 0;
  const stream = new ReconnectingStream({
    url: () => {
      attempts++;
      return "ws://evil.example#fragment/events";
    },
    onMessage: async () => {},
    log,
    minBackoffMs: 5,
    maxBackoffMs: 10,
  });
  defer(() => stream.stop());
  stream.start();
  await until(() => attempts >= 3, "retries");
  expect(lines.some((l) => l.msg === "stream: cannot connect")).toBe(true);
});
