/**
 * An event whose publish returned survives SIGKILL: same rkey, same order, after restart; and
 * stamps keep rising after the restart (no rkey or created is reused).
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { tempDir } from "../helpers/tack.ts";
import { connect, createdOf } from "../helpers/ws.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

const ROOT = join(import.meta.dir, "..", "..");

async function readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => boolean) {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of stream) {
    buffer += decoder.decode(chunk);
    let newline = buffer.indexOf("\n");
    while (newline >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (onLine(line)) return;
      newline = buffer.indexOf("\n");
    }
  }
}

test("published events survive SIGKILL and restart with the same rkey and order", async () => {
  const dir = tempDir();
  const dbPath = join(dir, "tack.db");

  const acknowledged: { created: bigint; rkey: string }[] = [];
  const publisher = Bun.spawn(["bun", join(ROOT, "test/helpers/publisher.ts"), dbPath, "100000"], {
    stdout: "pipe",
    stderr: "inherit",
  });
  await readLines(publisher.stdout, (line) => {
    const [created, rkey] = line.split(" ");
    acknowledged.push({ created: BigInt(created ?? "0"), rkey: rkey ?? "" });
    if (acknowledged.length === 400) publisher.kill("SIGKILL");
    return acknowledged.length >= 400;
  });
  expect(await publisher.exited).not.toBe(0);
  expect(publisher.signalCode).toBe("SIGKILL");

  const server = Bun.spawn(["bun", join(ROOT, "src/main.ts"), "--addr", "127.0.0.1:0"], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? "",
      TACK_HOSTNAME: "spindle.test",
      TACK_OWNER_DID: "did:plc:owner",
      TACK_DB_PATH: dbPath,
      TACK_JETSTREAM_URL: "ws://127.0.0.1:9/subscribe",
    },
    stdout: "pipe",
    stderr: "inherit",
  });
  let port = 0;
  await readLines(server.stdout, (line) => {
    const entry = JSON.parse(line) as { msg: string; port?: number };
    if (entry.msg === "tack: listening") port = entry.port ?? 0;
    return port !== 0;
  });
  try {
    const client = connect(`ws://127.0.0.1:${port}/events`);
    const frames = await client.waitFor(acknowledged.length);
    const served = frames.map((frame) => ({
      created: createdOf(frame),
      rkey: (JSON.parse(frame) as { rkey: string }).rkey,
    }));
    // Every acknowledged publish is there, in order, with its rkey. (A few more may have been
    // committed between the last line read and the kill.)
    expect(served.slice(0, acknowledged.length)).toEqual(acknowledged);
    expect(new Set(served.map((s) => s.rkey)).size).toBe(served.length);
    client.close();
  } finally {
    server.kill("SIGTERM");
    expect(await server.exited).toBe(0);
  }

  // A second life of the publisher continues above everything already stored.
  const after = Bun.spawnSync(["bun", join(ROOT, "test/helpers/publisher.ts"), dbPath, "8"]);
  const lines = after.stdout.toString().trim().split("\n");
  const last = acknowledged.at(-1);
  for (const line of lines) {
    const [created, rkey] = line.split(" ");
    expect(BigInt(created ?? "0") > (last?.created ?? 0n)).toBe(true);
    expect((rkey ?? "") > (last?.rkey ?? "")).toBe(true);
  }
});
