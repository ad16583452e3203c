/**
 * WebSocket clients that misbehave towards /events: talk when they should listen, send huge
 * frames, or arrive by the hundred. Each is ignored or closed; the service's memory stays
 * bounded (measured on a real child process).
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { tempDir } from "../helpers/tack.ts";
import { connect } from "../helpers/ws.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

const MAIN = join(import.meta.dir, "..", "..", "src", "main.ts");

async function startChild() {
  const dir = tempDir();
  const child = Bun.spawn(["bun", MAIN, "--addr", "127.0.0.1:0"], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? "",
      TACK_HOSTNAME: "spindle.test",
      TACK_OWNER_DID: "did:plc:owner",
      TACK_JETSTREAM_URL: "ws://127.0.0.1:9/subscribe",
    },
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = child.stdout.getReader();
  let text = "";
  let port = 0;
  while (!port) {
    const { value, done } = await reader.read();
    if (done) throw new Error("tack exited");
    text += new TextDecoder().decode(value);
    port = Number(/"port":(\d+)/.exec(text)?.[1] ?? 0);
  }
  return { child, base: `127.0.0.1:${port}` };
}

async function rssMiB(pid: number): Promise<number> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

test("chatter is ignored, a huge frame closes the socket with 1009, the service keeps serving", async () => {
  const { child, base } = await startChild();
  try {
    const chatty = connect(`ws://${base}/events`);
    await chatty.opened;
    for (let i = 0; i < 100; i++) chatty.socket.send(`hello ${i}`);
    const huge = connect(`ws://${base}/events`);
    await huge.opened;
    huge.socket.send("x".repeat(1 << 20));
    expect((await huge.closed).code).toBe(1009);
    expect(chatty.socket.readyState).toBe(WebSocket.OPEN);
    expect((await fetch(`http://${base}/healthz`)).status).toBe(200);
    chatty.close();
  } finally {
    child.kill("SIGTERM");
    await child.exited;
  }
});

test("1,000 concurrent subscribers come and go; memory stays bounded", async () => {
  const { child, base } = await startChild();
  try {
    await Bun.sleep(300);
    const idle = await rssMiB(child.pid);
    for (let round = 0; round < 3; round++) {
      const clients = Array.from({ length: 1_000 }, () => connect(`ws://${base}/events`));
      await Promise.all(clients.map((client) => client.opened));
      for (const client of clients) client.close();
      await Promise.all(clients.map((client) => client.closed));
    }
    const metrics = async () =>
      (await (await fetch(`http://${base}/metrics`)).text()).match(
        /^tack_events_subscribers (\d+)$/m,
      )?.[1];
    let subscribers = await metrics();
    for (let i = 0; i < 100 && subscribers !== "0"; i++) {
      await Bun.sleep(20);
      subscribers = await metrics();
    }
    expect(subscribers).toBe("0");
    const after = await rssMiB(child.pid);
    // 3,000 connections later the process holds no per-connection state: growth stays small.
    console.log(
      `hostile-clients: RSS idle ${idle.toFixed(1)} MiB, after 3 × 1,000 subscribers ${after.toFixed(1)} MiB`,
    );
    expect(after - idle).toBeLessThan(64);
  } finally {
    child.kill("SIGTERM");
    await child.exited;
  }
});
