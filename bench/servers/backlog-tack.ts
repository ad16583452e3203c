/** tack's real service with BENCH_EVENTS events already in its log, for backlog replay. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../src/log.ts";
import { startTack } from "../../src/tack.ts";
import { benchRecord } from "./protocol.ts";

const count = Number(process.env.BENCH_EVENTS ?? 100_000);
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
for (let i = 0; i < count; i += 1_000) {
  await Promise.all(
    Array.from({ length: Math.min(1_000, count - i) }, (_, j) =>
      tack.broker.publish("sh.tangled.pipeline.status", benchRecord(i + j)),
    ),
  );
}
process.stdout.write(`ready ${tack.port}\n`);
