/**
 * The tiny control protocol between bench drivers and the server processes they measure:
 * the server prints `ready <port>`, then for each stdin line `publish <count>` publishes that
 * many events (each carrying its send time) and prints `published`.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config } from "../../src/config.ts";

export const EVENT_BURST = 256;

/** tack's configuration for benchmarks: loopback only, a fresh temporary database, no retention. */
export function benchConfig(): Config {
  const dir = mkdtempSync(join(tmpdir(), "tack-bench-"));
  return {
    hostname: "bench.test",
    ownerDid: "did:plc:bench",
    listen: { hostname: "127.0.0.1", port: 0 },
    dbPath: join(dir, "tack.db"),
    jetstreamUrl: "ws://127.0.0.1:1/subscribe",
    plcUrl: "http://127.0.0.1:1",
    dev: true,
    logLevel: "error",
    eventsRetentionMs: 0,
  };
}

/** Milliseconds since the epoch with sub-ms precision, comparable across processes. */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

/** A realistic status record, stamped with the time it was handed to the publisher. */
export function benchRecord(i: number) {
  return {
    $type: "sh.tangled.pipeline.status",
    createdAt: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
    pipeline: "at://did:web:knot.example.com/sh.tangled.pipeline/3m6mxh2znw222",
    status: "running",
    workflow: `bench-${i}.yml`,
    sentAt: preciseNow(),
  };
}

export async function serveCommands(publish: (count: number) => Promise<void>): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of Bun.stdin.stream()) {
    buffer += decoder.decode(chunk);
    let newline = buffer.indexOf("\n");
    while (newline >= 0) {
      const [command, count] = buffer.slice(0, newline).split(" ");
      buffer = buffer.slice(newline + 1);
      if (command === "publish") {
        await publish(Number(count));
        process.stdout.write("published\n");
      }
      if (command === "quit") process.exit(0);
      newline = buffer.indexOf("\n");
    }
  }
}
