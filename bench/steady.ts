/**
 * `bun bench/steady.ts [--quick]`: latency of a steady stream, not a burst. 100 signed Buildkite
 * webhooks a second (each moving another seeded workflow to running) go to the compiled tack
 * with 1,000 live /events subscribers held by 4 other processes; each status frame's latency is
 * from the moment its webhook was sent to the moment each subscriber received it. The limit:
 * a bare Bun.serve that publishes a frame for each POST to the same subscribers, no checks, no
 * storage. p50 and p99 over every (delivery, subscriber) pair; median of 3 alternating runs
 * (1 with --quick, and half the duration), with min–max.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  alternate,
  buildTack,
  lineReader,
  type Row,
  row,
  startCompiled,
  startTackBinary,
} from "./lib.ts";
import { seedDatabase } from "./seed.ts";
import { BUILDKITE_ENV, signedDeliveries } from "./webhooks.ts";

const RATE = 100;
const SUBSCRIBERS = 1_000;
const PROCESSES = 4;

async function measure(
  server: { port: number },
  path: string,
  deliveries: { signature: string; body: string }[],
  dir: string,
): Promise<{ p50: number; p99: number }> {
  const children: Bun.Subprocess<"pipe", "pipe", "inherit">[] = [];
  for (let p = 0; p < PROCESSES; p++) {
    const child = Bun.spawn(["bun", join(import.meta.dir, "servers", "steady-subscribers.ts")], {
      env: {
        ...process.env,
        BENCH_PORT: String(server.port),
        BENCH_PATH: path,
        BENCH_COUNT: String(SUBSCRIBERS / PROCESSES),
        BENCH_DELIVERIES: String(deliveries.length),
        BENCH_OUT: join(dir, `recv-${p}.bin`),
      },
      stdin: "pipe",
      stdout: "pipe",
      stderr: "inherit",
    });
    if ((await lineReader(child.stdout).next()) !== "open")
      throw new Error("steady: subscribers did not connect");
    children.push(child);
  }
  const sentAt = new Float64Array(deliveries.length);
  const started = performance.now();
  const inFlight: Promise<unknown>[] = [];
  for (const [i, delivery] of deliveries.entries()) {
    const due = started + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    sentAt[i] = performance.timeOrigin + performance.now();
    inFlight.push(
      fetch(`http://127.0.0.1:${server.port}/webhooks/buildkite`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-buildkite-event": "build.running",
          "x-buildkite-signature": delivery.signature,
        },
        body: delivery.body,
      }).then(async (response) => {
        if ((await response.text()) !== "ok\n") throw new Error("steady: webhook not applied");
      }),
    );
  }
  await Promise.all(inFlight);
  await Bun.sleep(500); // the last frames' fan-out
  const latencies: number[] = [];
  for (const [p, child] of children.entries()) {
    child.stdin.write("stop\n");
    await child.exited;
    const times = new Float64Array(readFileSync(join(dir, `recv-${p}.bin`)).buffer);
    for (let s = 0; s < times.length / deliveries.length; s++) {
      for (let i = 0; i < deliveries.length; i++) {
        const at = times[s * deliveries.length + i] ?? 0;
        if (at === 0) throw new Error(`steady: delivery ${i} never reached a subscriber`);
        latencies.push(at - (sentAt[i] ?? 0));
      }
    }
  }
  latencies.sort((a, b) => a - b);
  return {
    p50: latencies[Math.floor(latencies.length * 0.5)] ?? Number.NaN,
    p99: latencies[Math.floor(latencies.length * 0.99)] ?? Number.NaN,
  };
}

export async function runSteady(options: { quick?: boolean } = {}): Promise<Row[]> {
  await buildTack();
  const seconds = options.quick ? 5 : 10;
  const count = RATE * seconds;
  const dir = mkdtempSync(join(tmpdir(), "tack-bench-steady-"));
  const seeded = seedDatabase(join(dir, "seed.db"), {
    events: 0,
    workflows: 0,
    buildkitePending: count,
  });
  const results: { tack: { p50: number; p99: number }[]; bare: { p50: number; p99: number }[] } = {
    tack: [],
    bare: [],
  };
  let run = 0;
  try {
    await alternate(options.quick ? 1 : 3, [
      async () => {
        const db = join(dir, `tack-${run++}.db`);
        await Bun.write(db, Bun.file(seeded));
        const tack = await startTackBinary(db, BUILDKITE_ENV);
        try {
          results.tack.push(await measure(tack, "/events", signedDeliveries(count), dir));
        } finally {
          await tack.stop();
        }
        return 0;
      },
      async () => {
        const bare = await startCompiled("publish-bare");
        try {
          results.bare.push(await measure(bare, "/", signedDeliveries(count), dir));
        } finally {
          await bare.stop();
        }
        return 0;
      },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const { spread } = await import("./lib.ts");
  const what = `steady stream, ${RATE} events/s to ${SUBSCRIBERS.toLocaleString("en-US")} subscribers, webhook sent → frame received`;
  return [
    row(
      `${what}, p50`,
      "ms",
      spread(results.tack.map((r) => r.p50)),
      spread(results.bare.map((r) => r.p50)),
      false,
    ),
    row(
      `${what}, p99`,
      "ms",
      spread(results.tack.map((r) => r.p99)),
      spread(results.bare.map((r) => r.p99)),
      false,
    ),
  ];
}

if (import.meta.main) {
  const { printTable } = await import("./lib.ts");
  printTable(await runSteady({ quick: process.argv.includes("--quick") }));
}
