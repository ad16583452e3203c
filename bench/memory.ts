/**
 * `bun bench/memory.ts`: resident memory of the server process, idle and with 1,000 idle
 * /events subscribers, tack (its real service) beside a bare Bun.serve WebSocket server.
 */
import { type Row, rssMiB, startServer } from "./lib.ts";

const SUBSCRIBERS = 1_000;

async function measure(server: "events-tack" | "events-baseline", path: string) {
  const child = await startServer(server);
  await Bun.sleep(1_000);
  const idle = await rssMiB(child.pid);
  const sockets: WebSocket[] = [];
  for (let opened = 0; opened < SUBSCRIBERS; opened += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, SUBSCRIBERS - opened) }, () => {
        const ws = new WebSocket(`ws://127.0.0.1:${child.port}${path}`);
        sockets.push(ws);
        return new Promise((resolve, reject) => {
          ws.onopen = resolve;
          ws.onerror = reject;
        });
      }),
    );
  }
  await Bun.sleep(1_000);
  const loaded = await rssMiB(child.pid);
  for (const ws of sockets) ws.close();
  child.send("quit");
  await child.stop();
  return { idle, loaded };
}

export async function runMemory(): Promise<Row[]> {
  const baseline = await measure("events-baseline", "/");
  const tack = await measure("events-tack", "/events");
  return [
    {
      benchmark: "RSS idle",
      unit: "MiB",
      tack: tack.idle,
      baseline: baseline.idle,
      higherIsBetter: false,
    },
    {
      benchmark: `RSS with ${SUBSCRIBERS.toLocaleString("en-US")} idle subscribers`,
      unit: "MiB",
      tack: tack.loaded,
      baseline: baseline.loaded,
      higherIsBetter: false,
    },
  ];
}

if (import.meta.main) {
  for (const row of await runMemory())
    console.log(
      `${row.benchmark}: tack ${row.tack.toFixed(1)} MiB, bare Bun ${row.baseline.toFixed(1)} MiB`,
    );
}
