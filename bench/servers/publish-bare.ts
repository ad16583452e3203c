/**
 * The limit for the steady stream: Bun.serve that, for each POSTed Buildkite delivery, builds a
 * status frame naming the build's workflow (from its tack:* meta_data) and publishes it on one
 * topic to every subscriber. No verification, no storage, no framework.
 */
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(request, srv) {
    if (request.method !== "POST") {
      return srv.upgrade(request, { data: undefined })
        ? undefined
        : new Response("upgrade", { status: 400 });
    }
    const body = (await request.json()) as { build: { meta_data: Record<string, string> } };
    const meta = body.build.meta_data;
    srv.publish(
      "events",
      JSON.stringify({
        created: Date.now() * 1_000_000,
        event: {
          $type: "sh.tangled.pipeline.status",
          pipeline: `at://did:web:${meta["tack:knot"]}/sh.tangled.pipeline/${meta["tack:pipeline_rkey"]}`,
          status: "running",
          workflow: meta["tack:workflow"],
        },
        nsid: "sh.tangled.pipeline.status",
        rkey: "3m6mxh2znw222",
      }),
    );
    return new Response("ok\n");
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
