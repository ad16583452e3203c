/** The floor for queryPipelines: Bun.serve answering a fixed JSON body (BENCH_BODY) from memory. */
const body = process.env.BENCH_BODY ?? "{}";
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch: () => new Response(body, { headers: { "content-type": "application/json" } }),
});
process.stdout.write(`ready ${server.port}\n`);
