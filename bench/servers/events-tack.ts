/** tack's real service (durable log, group commit, Elysia /events) on a temporary database. */
import { silentLogger } from "../../src/log.ts";
import { startTack } from "../../src/tack.ts";
import { benchConfig, benchRecord, EVENT_BURST, serveCommands } from "./protocol.ts";

const tack = await startTack(benchConfig(), silentLogger);
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
