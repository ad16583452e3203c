/** An HTTP server on 127.0.0.1 that accepts requests and never answers: a CI API gone silent. */
export function silentApi(): { url: string; requests: () => number; stop: () => void } {
  let requests = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () => {
      requests++;
      return new Promise<Response>(() => {});
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    requests: () => requests,
    stop: () => server.stop(true),
  };
}
