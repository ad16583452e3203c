/**
 * BENCH_COUNT idle WebSocket subscribers to 127.0.0.1:BENCH_PORT at BENCH_PATH, in this process
 * (the bench spreads thousands over several): raw sockets that complete the upgrade, then only
 * read what arrives. Prints `open <count>` once every upgrade was answered 101; exits on SIGTERM.
 */
const port = Number(process.env.BENCH_PORT);
const path = process.env.BENCH_PATH ?? "/";
const count = Number(process.env.BENCH_COUNT ?? 1000);
let upgraded = 0;
const request =
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
const { promise: allOpen, resolve } = Promise.withResolvers<void>();
for (let opened = 0; opened < count; opened += 200) {
  await Promise.all(
    Array.from({ length: Math.min(200, count - opened) }, async () => {
      let seen = false;
      const socket = await Bun.connect({
        hostname: "127.0.0.1",
        port,
        socket: {
          data(_socket, chunk) {
            if (seen) return;
            seen = true;
            if (!new TextDecoder().decode(chunk.subarray(0, 12)).startsWith("HTTP/1.1 101"))
              throw new Error("idle subscriber: upgrade refused");
            if (++upgraded === count) resolve();
          },
        },
      });
      socket.write(request);
    }),
  );
}
await allOpen;
process.stdout.write(`open ${upgraded}\n`);
process.on("SIGTERM", () => process.exit(0));
setInterval(() => {}, 1 << 30);
