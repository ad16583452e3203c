/** Shared plumbing of the benchmarks: server child processes, line protocol, result rows. */
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Row {
  benchmark: string;
  unit: string;
  tack: number;
  baseline: number;
  /** true when a larger number is better (throughput), false for latency, time, memory. */
  higherIsBetter: boolean;
  /** min–max of the runs behind a median, when there were several. */
  tackRange?: { min: number; max: number };
  baselineRange?: { min: number; max: number };
}

export interface ServerProcess {
  port: number;
  pid: number;
  lines: { next(): Promise<string> };
  send(line: string): void;
  stop(): Promise<void>;
}

/** Starts `bench/servers/<name>.ts` and waits for its `ready <port>` line. */
export async function startServer(
  name: string,
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const child = Bun.spawn(["bun", join(import.meta.dir, "servers", `${name}.ts`)], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
    env: { ...process.env, ...env },
  });
  return serverHandle(name, child);
}

/** A bench server's process, once it said "ready <port>" on its first line. */
async function serverHandle(
  name: string,
  child: Bun.Subprocess<"pipe", "pipe", "inherit">,
): Promise<ServerProcess> {
  const lines = lineReader(child.stdout);
  const ready = await lines.next();
  const port = Number(/^ready (\d+)$/.exec(ready)?.[1]);
  if (!port) throw new Error(`${name}: expected "ready <port>", got ${JSON.stringify(ready)}`);
  return {
    port,
    pid: child.pid,
    lines,
    send: (line) => {
      child.stdin.write(`${line}\n`);
    },
    stop: async () => {
      child.kill("SIGTERM");
      await child.exited;
    },
  };
}

export function lineReader(stream: ReadableStream<Uint8Array>) {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  return {
    async next(): Promise<string> {
      while (!buffer.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error("server exited");
        buffer += decoder.decode(value);
      }
      const line = buffer.slice(0, buffer.indexOf("\n"));
      buffer = buffer.slice(buffer.indexOf("\n") + 1);
      return line;
    },
  };
}

/** Resident set size of a process, in MiB (Linux). */
export async function rssMiB(pid: number): Promise<number> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

export function format(n: number): string {
  if (!Number.isFinite(n)) return "n/a";
  if (n >= 100) return Math.round(n).toLocaleString("en-US");
  return n.toLocaleString("en-US", { maximumFractionDigits: 2, minimumFractionDigits: 2 });
}

/**
 * tack against its limit as the issue states goals: throughput tack/limit ("0.25×"), time and
 * memory tack/limit too (lower is better there, so "0.5×" is half the limit's time).
 */
export function ratio(row: Row): string {
  const value = row.tack / row.baseline;
  return `${value >= 10 ? value.toFixed(0) : value.toFixed(2)}×`;
}

export function printTable(rows: Row[]): void {
  console.log("| benchmark | unit | tack, median (min–max) | limit, median (min–max) | ratio |");
  console.log("|---|---|---:|---:|---:|");
  for (const row of rows) {
    console.log(
      `| ${row.benchmark} | ${row.unit} | ${cell(row.tack, row.tackRange)} | ${cell(row.baseline, row.baselineRange)} | ${ratio(row)} |`,
    );
  }
}

function cell(value: number, range?: { min: number; max: number }): string {
  return range ? `${format(value)} (${format(range.min)}–${format(range.max)})` : format(value);
}

export const ROOT = join(import.meta.dir, "..");
export const TACK_BINARY = process.env.BENCH_TACK_BINARY ?? join(ROOT, "dist", "tack");

/** Builds dist/tack from this tree (once per bench run, unless BENCH_NO_BUILD is set). */
export async function buildTack(): Promise<void> {
  if (process.env.BENCH_NO_BUILD) return;
  const build = Bun.spawn(["bun", "scripts/build.ts"], { cwd: ROOT, stdout: "ignore" });
  if ((await build.exited) !== 0) throw new Error("bench: bun run build failed");
  process.env.BENCH_NO_BUILD = "1";
}

/** A port nothing listens on right now (the binary takes its address from the environment). */
export function freePort(): number {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = probe.port ?? 0;
  probe.stop(true);
  return port;
}

export interface BinaryProcess {
  port: number;
  pid: number;
  /** Milliseconds from spawn to the first 200 on GET /. */
  startMs: number;
  stop(): Promise<void>;
}

/**
 * Runs the compiled tack as operators do: configured by environment, default (info) logging
 * to stdout, here into a file as journald would take it. Resolves at its first 200 on GET /.
 */
export async function startTackBinary(
  dbPath: string,
  env: Record<string, string> = {},
): Promise<BinaryProcess> {
  const port = freePort();
  const logFile = `${dbPath}.log`;
  const started = performance.now();
  const child = Bun.spawn([TACK_BINARY], {
    env: {
      PATH: process.env.PATH ?? "",
      TACK_HOSTNAME: "bench.test",
      TACK_OWNER_DID: "did:plc:bench",
      TACK_LISTEN_ADDR: `127.0.0.1:${port}`,
      TACK_DB_PATH: dbPath,
      TACK_JETSTREAM_URL: "ws://127.0.0.1:9/subscribe",
      TACK_PLC_URL: "http://127.0.0.1:9",
      TACK_DEV: "true",
      // As deploy/tack.service runs it: freed memory goes back to the kernel after 1 s.
      MIMALLOC_PURGE_DELAY: "1000",
      // BENCH_PROFILE=<dir> writes a CPU profile of each tack process there.
      ...(process.env.BENCH_PROFILE
        ? { BUN_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROFILE}` }
        : {}),
      ...env,
    },
    stdout: Bun.file(logFile),
    stderr: "inherit",
  });
  await firstOk(port, () => {
    if (child.exitCode !== null)
      throw new Error(`tack exited with ${child.exitCode}; see ${logFile}`);
  });
  return {
    port,
    pid: child.pid,
    startMs: performance.now() - started,
    stop: async () => {
      child.kill("SIGTERM");
      await child.exited;
    },
  };
}

/** Resolves at the first 200 on GET / at `port`, polling every millisecond; `check` may throw. */
export async function firstOk(port: number, check: () => void = () => {}): Promise<void> {
  for (;;) {
    check();
    try {
      const response = await fetch(`http://127.0.0.1:${port}/`);
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await Bun.sleep(1);
  }
}

/** Median and range of repeated measurements, for "median (min–max)" cells. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(values: number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

/** Runs `wrk` and returns requests/s, p50/p99 (ms) and the script's `bench:` counters. */
export async function runWrk(options: {
  url: string;
  script: string;
  seconds: number;
  connections: number;
  env: Record<string, string>;
}): Promise<{ perSecond: number; p50: number; p99: number; wrong: number; exhausted: number }> {
  const wrk = Bun.spawn(
    [
      "wrk",
      "-t1",
      `-c${options.connections}`,
      `-d${options.seconds}s`,
      "--latency",
      "-s",
      options.script,
      options.url,
    ],
    { env: { ...process.env, BENCH_THREADS: "1", ...options.env }, stdout: "pipe", stderr: "pipe" },
  );
  const out = await new Response(wrk.stdout).text();
  if ((await wrk.exited) !== 0)
    throw new Error(`wrk failed: ${await new Response(wrk.stderr).text()}`);
  const perSecond = Number(/Requests\/sec:\s+([0-9.]+)/.exec(out)?.[1]);
  const counters = /bench: wrong=(\d+) exhausted=(\d+) p50=([0-9.]+) p99=([0-9.]+)/.exec(out);
  if (!counters || !Number.isFinite(perSecond)) throw new Error(`wrk: cannot read ${out}`);
  return {
    perSecond,
    wrong: Number(counters[1]),
    exhausted: Number(counters[2]),
    p50: Number(counters[3]),
    p99: Number(counters[4]),
  };
}

/**
 * Runs each measurement `runs` times, alternating between them (A, B, A, B, …) so that a slow
 * spell of this shared machine hits both sides alike; returns each side's spread.
 */
export async function alternate(
  runs: number,
  measurements: (() => Promise<number>)[],
): Promise<Spread[]> {
  const values: number[][] = measurements.map(() => []);
  for (let run = 0; run < runs; run++) {
    for (const [i, measure] of measurements.entries()) values[i]?.push(await measure());
  }
  return values.map(spread);
}

/** A table row from two spreads. */
export function row(
  benchmark: string,
  unit: string,
  tack: Spread,
  baseline: Spread,
  higherIsBetter: boolean,
): Row {
  return {
    benchmark,
    unit,
    tack: tack.median,
    baseline: baseline.median,
    tackRange: tack,
    baselineRange: baseline,
    higherIsBetter,
  };
}

/** Starts a compiled bare server (bench/servers/<name>.ts) and waits for its port. */
export async function startCompiled(
  name: string,
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const binary = join(tmpdir(), `tack-bench-${name}`);
  if (!compiled.has(name)) {
    const build = Bun.spawn(
      [
        "bun",
        "build",
        "--compile",
        "--production",
        "--minify",
        "--bytecode",
        "--format=esm",
        "--outfile",
        binary,
        join(import.meta.dir, "servers", `${name}.ts`),
      ],
      { stdout: "ignore", stderr: "inherit" },
    );
    if ((await build.exited) !== 0) throw new Error(`bench: cannot compile ${name}`);
    compiled.add(name);
  }
  const child = Bun.spawn([binary], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
    env: { ...process.env, ...env },
  });
  return serverHandle(name, child);
}
const compiled = new Set<string>();
