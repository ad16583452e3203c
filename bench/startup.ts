/**
 * `bun bench/startup.ts`: compiled binary start to first HTTP 200 on GET /, for dist/tack
 * (opening and migrating a fresh database included) beside a compiled bare Bun.serve, median
 * of several runs each.
 */
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "bun";
import { median, type Row } from "./lib.ts";

const RUNS = 7;
const ROOT = join(import.meta.dir, "..");

async function freePort(): Promise<number> {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = probe.port ?? 0;
  probe.stop(true);
  return port;
}

async function startToFirst200(command: string[], env: Record<string, string>): Promise<number> {
  const port = await freePort();
  const cwd = mkdtempSync(join(tmpdir(), "tack-bench-start-"));
  const started = performance.now();
  const child = Bun.spawn([...command.map((c) => c.replace("$PORT", String(port)))], {
    cwd,
    env: { ...env, PORT: String(port) },
    stdout: "ignore",
    stderr: "inherit",
  });
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/`);
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    await Bun.sleep(1);
  }
  const ms = performance.now() - started;
  child.kill("SIGTERM");
  await child.exited;
  return ms;
}

export async function runStartup(): Promise<Row[]> {
  const tackBinary = join(ROOT, "dist", "tack");
  if (!existsSync(tackBinary)) await $`bun run build`.cwd(ROOT).quiet();
  const bareBinary = join(tmpdir(), "tack-bench-bare-http");
  await $`bun build --compile --production --minify --bytecode --format=esm --outfile ${bareBinary} ${join(import.meta.dir, "servers", "bare-http.ts")}`.quiet();
  const tackEnv = {
    TACK_HOSTNAME: "bench.test",
    TACK_OWNER_DID: "did:plc:bench",
    TACK_JETSTREAM_URL: "ws://127.0.0.1:9/subscribe",
    TACK_LOG_LEVEL: "error",
  };
  const tack: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    bare.push(await startToFirst200([bareBinary], {}));
    tack.push(await startToFirst200([tackBinary, "-addr", "127.0.0.1:$PORT"], tackEnv));
  }
  return [
    {
      benchmark: "binary start to first 200",
      unit: "ms",
      tack: median(tack),
      baseline: median(bare),
      higherIsBetter: false,
    },
  ];
}

if (import.meta.main) {
  const [row] = await runStartup();
  console.log(
    `start to first 200: tack ${row?.tack.toFixed(1)} ms, bare Bun ${row?.baseline.toFixed(1)} ms`,
  );
}
