/**
 * `bun bench/backlog.ts`: replay of a 100,000-event backlog to one /events client that
 * connects with no cursor, tack (paged from SQLite, backpressure-aware) beside a bare
 * Bun.serve sending the same number of pre-encoded frames from memory.
 */
import { format, type Row, startServer } from "./lib.ts";

const EVENTS = 100_000;

async function replay(server: "backlog-tack" | "backlog-baseline", path: string): Promise<number> {
  const child = await startServer(server, { BENCH_EVENTS: String(EVENTS) });
  const started = performance.now();
  const ws = new WebSocket(`ws://127.0.0.1:${child.port}${path}`);
  let received = 0;
  await new Promise<void>((resolve, reject) => {
    ws.onmessage = () => {
      if (++received === EVENTS) resolve();
    };
    ws.onclose = () => reject(new Error(`${server}: closed after ${received} frames`));
  });
  const seconds = (performance.now() - started) / 1000;
  ws.onclose = null;
  ws.close();
  await child.stop();
  return EVENTS / seconds;
}

export async function runBacklog(): Promise<Row[]> {
  const baseline = await replay("backlog-baseline", "/");
  const tack = await replay("backlog-tack", "/events");
  return [
    {
      benchmark: `backlog replay, ${format(EVENTS)} events to 1 client`,
      unit: "events/s",
      tack,
      baseline,
      higherIsBetter: true,
    },
  ];
}

if (import.meta.main) {
  const [row] = await runBacklog();
  console.log(
    `backlog replay: tack ${format(row?.tack ?? 0)} events/s, bare Bun ${format(row?.baseline ?? 0)} events/s`,
  );
}
