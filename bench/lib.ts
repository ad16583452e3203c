/** Shared plumbing of the benchmarks: server child processes, line protocol, result rows. */
import { join } from "node:path";

export interface Row {
  benchmark: string;
  unit: string;
  tack: number;
  baseline: number;
  /** true when a larger number is better (throughput), false for latency, time, memory. */
  higherIsBetter: boolean;
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

/** tack relative to the baseline, as "how much of the baseline" (always: >100 % is better). */
export function ratio(row: Row): string {
  const value = row.higherIsBetter ? row.tack / row.baseline : row.baseline / row.tack;
  return `${Math.round(value * 100)} %`;
}

export function printTable(rows: Row[]): void {
  console.log("| benchmark | unit | tack | bare Bun | tack vs bare |");
  console.log("|---|---|---:|---:|---:|");
  for (const row of rows) {
    console.log(
      `| ${row.benchmark} | ${row.unit} | ${format(row.tack)} | ${format(row.baseline)} | ${ratio(row)} |`,
    );
  }
}
