/**
 * `bun bench/slow-uploads.ts`: what 400 unauthenticated, stalled webhook uploads cost tack's
 * memory. Each announces 1 MiB, sends 900 kB and stops. Reported: tack's resident memory
 * (VmRSS) before and while they hang, and how many were refused at once (503). tack runs as
 * its own process; everything is on 127.0.0.1.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const UPLOADS = 400;
const ANNOUNCED = 1 << 20;
const SENT = 900_000;

const dir = mkdtempSync(join(tmpdir(), "tack-bench-uploads-"));
// Another checkout's entry point may be given to compare (e.g. before a change).
const entry = process.argv[2] ?? join(import.meta.dir, "..", "src", "main.ts");
const child = Bun.spawn(["bun", entry], {
  env: {
    PATH: process.env.PATH ?? "",
    TACK_HOSTNAME: "bench.test",
    TACK_OWNER_DID: "did:plc:bench0000000000000000000",
    TACK_DB_PATH: join(dir, "tack.db"),
    TACK_LISTEN_ADDR: "127.0.0.1:0",
    TACK_JETSTREAM_URL: "ws://127.0.0.1:9/subscribe",
    TACK_BUILDKITE_TOKEN: "t",
    TACK_BUILDKITE_ORG: "acme",
    TACK_BUILDKITE_WEBHOOK_SECRET: "s",
    TACK_BUILDKITE_API_URL: "http://127.0.0.1:9",
  },
  stdout: "pipe",
});
let port = 0;
const decoder = new TextDecoder();
const reader = child.stdout.getReader();
while (port === 0) {
  const { value, done } = await reader.read();
  if (done) break;
  port = Number(/"port":(\d+)/.exec(decoder.decode(value))?.[1] ?? 0);
}
// Keep reading tack's log, or its writes would fail once the pipe fills.
void (async () => {
  while (!(await reader.read()).done) {
    // discarded
  }
})();
if (port === 0) throw new Error("tack did not report its port");

/** tack's resident memory in MiB, as the kernel counts it. */
async function rss(): Promise<number> {
  const status = await Bun.file(`/proc/${child.pid}/status`).text();
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024;
}

const before = await rss();
let refused = 0;
const sockets: Awaited<ReturnType<typeof Bun.connect>>[] = [];
const chunk = Buffer.alloc(SENT, "a");
for (let i = 0; i < UPLOADS; i++) {
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(_socket, data) {
        if (decoder.decode(data).startsWith("HTTP/1.1 503")) refused++;
      },
    },
  });
  socket.write(
    `POST /webhooks/buildkite HTTP/1.1\r\nHost: x\r\nContent-Length: ${ANNOUNCED}\r\n\r\n`,
  );
  socket.write(chunk);
  sockets.push(socket);
}
await Bun.sleep(2_000);
const during = await rss();
console.log(
  `${UPLOADS} stalled 1 MiB uploads: tack RSS ${before.toFixed(0)} MiB before, ${during.toFixed(0)} MiB while they hang; ${refused} refused with 503`,
);
for (const socket of sockets) socket.end();
child.kill("SIGTERM");
await child.exited;
rmSync(dir, { recursive: true, force: true });
