/** Baseline for start-up time and memory: the smallest useful Bun server, compiled the same way. */
const port = Number(process.env.PORT ?? 0);
const server = Bun.serve({
  hostname: "127.0.0.1",
  port,
  fetch: (request, srv) =>
    srv.upgrade(request, { data: undefined }) ? undefined : new Response("ok"),
  websocket: { message: () => {} },
});
process.stdout.write(`ready ${server.port}\n`);
