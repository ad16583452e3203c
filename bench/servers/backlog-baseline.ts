/**
 * Baseline for backlog replay: bare Bun.serve holding BENCH_EVENTS pre-encoded frames in
 * memory and sending them all to each new socket, pausing on backpressure until `drain`.
 */
import type { ServerWebSocket } from "bun";
import { benchRecord } from "./protocol.ts";

const count = Number(process.env.BENCH_EVENTS ?? 100_000);
const frames = Array.from({ length: count }, (_, i) =>
  JSON.stringify({
    created: 1_800_000_000_000_000_000 + i,
    event: benchRecord(i),
    nsid: "sh.tangled.pipeline.status",
    rkey: "3m6mxh2znw222",
  }),
);
const position = new Map<ServerWebSocket<unknown>, number>();

function pump(ws: ServerWebSocket<unknown>): void {
  let next = position.get(ws) ?? 0;
  while (next < frames.length) {
    const status = ws.send(frames[next++] ?? "");
    if (status === -1) break; // queued: wait for drain
  }
  position.set(ws, next);
}

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch: (request, srv) =>
    srv.upgrade(request, { data: undefined })
      ? undefined
      : new Response("upgrade", { status: 400 }),
  websocket: {
    open: pump,
    drain: pump,
    message: () => {},
    close: (ws) => {
      position.delete(ws);
    },
    perMessageDeflate: false,
  },
});
process.stdout.write(`ready ${server.port}\n`);
