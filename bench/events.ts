/**
 * `bun bench/events.ts`: /events fan-out. For 1, 100 and 1,000 subscribers, publishes a run
 * of status events and measures, at the subscribers, events/s (first publish to the last
 * delivery to every subscriber) and p50/p99 delivery latency (publish call to frame
 * received). tack (durable commit with fsync, then fan-out) runs beside a bare Bun.serve
 * pub/sub topic in the same run, each server in its own process, subscribers in this one.
 */
import { join } from "node:path";
import { lineReader, type Row } from "./lib.ts";
import { preciseNow } from "./servers/protocol.ts";

const SCENARIOS = [
  { subscribers: 1, events: 20_000 },
  { subscribers: 100, events: 2_000 },
  { subscribers: 1_000, events: 500 },
];
const WARMUP_EVENTS = 200;

interface Result {
  eventsPerSecond: number;
  deliveriesPerSecond: number;
  p50: number;
  p99: number;
}

async function measure(
  server: "baseline" | "tack",
  subscribers: number,
  events: number,
): Promise<Result> {
  const child = Bun.spawn(["bun", join(import.meta.dir, "servers", `events-${server}.ts`)], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });
  const lines = lineReader(child.stdout);
  const ready = await lines.next();
  const port = Number(/^ready (\d+)$/.exec(ready)?.[1]);
  const url =
    server === "tack"
      ? `ws://127.0.0.1:${port}/events?cursor=${BigInt(Date.now()) * 1_000_000n}`
      : `ws://127.0.0.1:${port}/`;

  let expected = 0;
  let received = 0;
  let latencies: number[] = [];
  let lastAt = 0;
  let done: () => void = () => {};
  const sockets: WebSocket[] = [];
  for (let opened = 0; opened < subscribers; opened += 100) {
    const batch = Array.from({ length: Math.min(100, subscribers - opened) }, () => {
      const ws = new WebSocket(url);
      ws.onmessage = (message) => {
        const now = preciseNow();
        const sentAt = Number(/"sentAt":([0-9.]+)/.exec(String(message.data))?.[1]);
        latencies.push(now - sentAt);
        lastAt = now;
        if (++received === expected) done();
      };
      sockets.push(ws);
      return new Promise<void>((resolve, reject) => {
        ws.onopen = () => resolve();
        ws.onerror = () => reject(new Error(`${server}: subscriber failed to connect`));
      });
    });
    await Promise.all(batch);
  }

  const run = async (count: number) => {
    received = 0;
    latencies = [];
    expected = count * subscribers;
    const all = new Promise<void>((resolve) => {
      done = resolve;
    });
    const startedAt = preciseNow();
    child.stdin.write(`publish ${count}\n`);
    await all;
    await lines.next(); // "published"
    return { startedAt, finishedAt: lastAt };
  };

  await run(WARMUP_EVENTS);
  const { startedAt, finishedAt } = await run(events);
  const seconds = (finishedAt - startedAt) / 1000;
  latencies.sort((a, b) => a - b);
  for (const ws of sockets) ws.close();
  child.stdin.write("quit\n");
  await child.exited;
  return {
    eventsPerSecond: events / seconds,
    deliveriesPerSecond: (events * subscribers) / seconds,
    p50: latencies[Math.floor(latencies.length * 0.5)] ?? Number.NaN,
    p99: latencies[Math.floor(latencies.length * 0.99)] ?? Number.NaN,
  };
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Rows for the summary table (bench/run.ts). */
export async function runFanout(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const { subscribers, events } of SCENARIOS) {
    const baseline = await measure("baseline", subscribers, events);
    const tack = await measure("tack", subscribers, events);
    rows.push(
      {
        benchmark: `/events fan-out, ${fmt(subscribers)} subscriber(s)`,
        unit: "events/s",
        tack: tack.eventsPerSecond,
        baseline: baseline.eventsPerSecond,
        higherIsBetter: true,
      },
      {
        benchmark: `/events p99 delivery, ${fmt(subscribers)} subscriber(s)`,
        unit: "ms",
        tack: tack.p99,
        baseline: baseline.p99,
        higherIsBetter: false,
      },
    );
  }
  return rows;
}

if (import.meta.main) {
  console.log(`/events fan-out — Bun ${Bun.version}, ${navigator.hardwareConcurrency} cores`);
  console.log(
    "| subscribers | events | server | events/s | deliveries/s | p50 ms | p99 ms | tack/baseline events/s |",
  );
  console.log("|---:|---:|---|---:|---:|---:|---:|---:|");
  for (const { subscribers, events } of SCENARIOS) {
    const baseline = await measure("baseline", subscribers, events);
    const tack = await measure("tack", subscribers, events);
    for (const [name, r] of [
      ["bare Bun.serve", baseline],
      ["tack", tack],
    ] as const) {
      const ratio =
        name === "tack" ? `${fmt((tack.eventsPerSecond / baseline.eventsPerSecond) * 100)} %` : "";
      console.log(
        `| ${fmt(subscribers)} | ${fmt(events)} | ${name} | ${fmt(r.eventsPerSecond)} | ${fmt(r.deliveriesPerSecond)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${ratio} |`,
      );
    }
  }
}
