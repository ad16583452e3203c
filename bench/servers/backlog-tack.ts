/** tack's real service with BENCH_EVENTS events already in its log, for backlog replay. */
import { silentLogger } from "../../src/log.ts";
import { startTack } from "../../src/tack.ts";
import { benchConfig, benchRecord } from "./protocol.ts";

const count = Number(process.env.BENCH_EVENTS ?? 100_000);
const tack = await startTack(benchConfig(), silentLogger);
for (let i = 0; i < count; i += 1_000) {
  await Promise.all(
    Array.from({ length: Math.min(1_000, count - i) }, (_, j) =>
      tack.broker.publish("sh.tangled.pipeline.status", benchRecord(i + j)),
    ),
  );
}
process.stdout.write(`ready ${tack.port}\n`);
