/** The floor for webhook ingest: Bun.serve reading the body and answering 200, nothing else. */
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(request) {
    await request.arrayBuffer();
    return new Response("ok\n");
  },
});
process.stdout.write(`ready ${server.port}\n`);
