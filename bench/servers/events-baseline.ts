/** Baseline: a bare Bun.serve WebSocket pub/sub topic, no storage, no framework. */
import { benchRecord, EVENT_BURST, serveCommands } from "./protocol.ts";

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request, srv) {
    return srv.upgrade(request) ? undefined : new Response("upgrade required", { status: 400 });
  },
  websocket: {
    open: (ws) => {
      ws.subscribe("events");
    },
    message: () => {},
    perMessageDeflate: false,
  },
});
process.stdout.write(`ready ${server.port}\n`);
await serveCommands(async (count) => {
  for (let i = 0; i < count; i++) {
    server.publish("events", JSON.stringify({ event: benchRecord(i) }));
    if ((i + 1) % EVENT_BURST === 0) await new Promise((resolve) => setImmediate(resolve));
  }
});
