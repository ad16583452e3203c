/**
 * BENCH_COUNT live subscribers (Bun's WebSocket client) to ws://127.0.0.1:BENCH_PORT/BENCH_PATH
 * for the steady-stream benchmark. Each status frame names a seeded workflow's pipeline, whose
 * TID says which delivery caused it; the receive time (wall clock, sub-millisecond) is stored
 * per subscriber and delivery. Prints `open` once connected; on `stop` (stdin) writes the
 * times as Float64 [subscriber][delivery] to BENCH_OUT and exits.
 */
import { decodeTid } from "../../src/eventlog/tid.ts";
import { SEED_BASE_MICROS } from "../seed.ts";

const port = Number(process.env.BENCH_PORT);
const path = process.env.BENCH_PATH ?? "/";
const count = Number(process.env.BENCH_COUNT ?? 250);
const deliveries = Number(process.env.BENCH_DELIVERIES ?? 1000);
const times = new Float64Array(count * deliveries);
const RKEY = /sh\.tangled\.pipeline\/([a-z2-7]{13})"/;

await Promise.all(
  Array.from({ length: count }, (_, s) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    ws.onmessage = (message) => {
      const at = performance.timeOrigin + performance.now();
      const rkey = RKEY.exec(String(message.data))?.[1];
      if (!rkey) return;
      const i = Number(decodeTid(rkey).micros - SEED_BASE_MICROS);
      if (i >= 0 && i < deliveries) times[s * deliveries + i] = at;
    };
    return new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error("steady subscriber: cannot connect"));
    });
  }),
);
process.stdout.write("open\n");
for await (const chunk of Bun.stdin.stream()) {
  if (new TextDecoder().decode(chunk).includes("stop")) break;
}
await Bun.write(process.env.BENCH_OUT ?? "", times.buffer);
process.exit(0);
