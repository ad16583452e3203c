/**
 * `bun bench/memory.ts [--quick]`: resident memory of the server process (the compiled tack,
 * default logging, and a compiled bare Bun.serve), idle and with 1,000 and 10,000 idle /events
 * subscribers (up to 1,000 with --quick) held by separate processes of 2,500 each. Rows: RSS
 * idle, and the growth per 1,000 subscribers at each size. Median of 3 alternating runs
 * (1 with --quick), with min–max.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  alternate,
  buildTack,
  lineReader,
  type Row,
  row,
  rssMiB,
  startCompiled,
  startTackBinary,
} from "./lib.ts";

const PER_PROCESS = 2_500;

async function subscribe(port: number, path: string, count: number) {
  const children: Bun.Subprocess[] = [];
  for (let left = count; left > 0; left -= PER_PROCESS) {
    const child = Bun.spawn(["bun", join(import.meta.dir, "servers", "idle-subscribers.ts")], {
      env: {
        ...process.env,
        BENCH_PORT: String(port),
        BENCH_PATH: path,
        BENCH_COUNT: String(Math.min(PER_PROCESS, left)),
      },
      stdout: "pipe",
      stderr: "inherit",
    });
    children.push(child);
    const line = await lineReader(child.stdout).next();
    if (!line.startsWith("open ")) throw new Error(`memory: subscribers said ${line}`);
  }
  return async () => {
    for (const child of children) child.kill("SIGTERM");
    await Promise.all(children.map((child) => child.exited));
  };
}

async function measure(
  start: () => Promise<{ port: number; pid: number; stop(): Promise<void> }>,
  path: string,
  sizes: number[],
): Promise<number[]> {
  const server = await start();
  try {
    await Bun.sleep(1_000);
    const values = [await rssMiB(server.pid)];
    let have = 0;
    const closers: (() => Promise<void>)[] = [];
    for (const size of sizes) {
      closers.push(await subscribe(server.port, path, size - have));
      have = size;
      await Bun.sleep(1_000);
      values.push(await rssMiB(server.pid));
    }
    for (const close of closers) await close();
    return values;
  } finally {
    await server.stop();
  }
}

export async function runMemory(options: { quick?: boolean } = {}): Promise<Row[]> {
  await buildTack();
  const sizes = options.quick ? [1_000] : [1_000, 10_000];
  const dir = mkdtempSync(join(tmpdir(), "tack-bench-memory-"));
  const results: { tack: number[][]; bare: number[][] } = { tack: [], bare: [] };
  let run = 0;
  try {
    await alternate(options.quick ? 1 : 3, [
      async () => {
        const db = join(dir, `tack-${run++}.db`);
        results.tack.push(await measure(() => startTackBinary(db), "/events", sizes));
        return 0;
      },
      async () => {
        results.bare.push(await measure(() => startCompiled("bare-http"), "/", sizes));
        return 0;
      },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const { spread } = await import("./lib.ts");
  const column = (runs: number[][], i: number) => spread(runs.map((values) => values[i] ?? NaN));
  const growth = (runs: number[][], i: number) =>
    spread(
      runs.map(
        (values) => (((values[i + 1] ?? NaN) - (values[0] ?? NaN)) * 1000) / (sizes[i] ?? 1),
      ),
    );
  const rows = [row("RSS idle", "MiB", column(results.tack, 0), column(results.bare, 0), false)];
  sizes.forEach((size, i) => {
    rows.push(
      row(
        `RSS growth per 1,000 idle subscribers, at ${size.toLocaleString("en-US")}`,
        "MiB",
        growth(results.tack, i),
        growth(results.bare, i),
        false,
      ),
    );
  });
  return rows;
}

if (import.meta.main) {
  const { printTable } = await import("./lib.ts");
  printTable(await runMemory({ quick: process.argv.includes("--quick") }));
}
