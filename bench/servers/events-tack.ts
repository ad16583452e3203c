/** tack's real service (durable log, group commit, Elysia /events) on a temporary database. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../src/log.ts";
import { startTack } from "../../src/tack.ts";
import { benchRecord, EVENT_BURST, serveCommands } from "./protocol.ts";

const dir = mkdtempSync(join(tmpdir(), "tack-bench-"));
const tack = await startTack(
  {
    hostname: "bench.test",
    ownerDid: "did:plc:bench",
    listen: { hostname: "127.0.0.1", port: 0 },
    dbPath: join(dir, "tack.db"),
    jetstreamUrl: "ws://127.0.0.1:1/subscribe",
    dev: true,
    logLevel: "error",
    eventsRetentionMs: 0,
  },
  silentLogger,
);
process.stdout.write(`ready ${tack.port}\n`);
await serveCommands(async (count) => {
  let window: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    window.push(tack.broker.publish("sh.tangled.pipeline.status", benchRecord(i)));
    if (window.length === EVENT_BURST) {
      await Promise.all(window);
      window = [];
    }
  }
  await Promise.all(window);
});
