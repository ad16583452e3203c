/**
 * `bun run smoke [dist/tack]`: runs the compiled binary the way an operator would, from an
 * empty directory with no sources around it, and checks what a deployment relies on:
 * configuration errors exit 2, the banner, the owner check, /events, /logs 404, and SIGTERM →
 * exit 0 within 5 s with WebSockets closed 1001. Exits non-zero on the first failure.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const binary = resolve(process.argv[2] ?? "dist/tack");
const dir = mkdtempSync(join(tmpdir(), "tack-smoke-"));
const OWNER = "did:plc:smoke0000000000000000000";
// A binary that still autoloaded .env would read this and refuse to start.
writeFileSync(join(dir, ".env"), "TACK_LOG_LEVEL=bogus\n");

let failures = 0;
function check(what: string, ok: boolean, detail = "") {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${ok || !detail ? "" : `: ${detail}`}`);
  if (!ok) failures++;
}

const version = Bun.spawnSync([binary, "version"], { cwd: dir });
check(
  "tack version names the version, commit and schema",
  /^tack \d+\.\d+\.\d+ \(\w+\) schema \d+\n$/.test(version.stdout.toString()),
  version.stdout.toString(),
);

const noOwner = Bun.spawnSync([binary], { cwd: dir, env: { TACK_HOSTNAME: "smoke.test" } });
check(
  "missing TACK_OWNER_DID exits 2 with one line naming it",
  noOwner.exitCode === 2 && /^tack: TACK_OWNER_DID is required/.test(noOwner.stderr.toString()),
  `exit ${noOwner.exitCode}: ${noOwner.stderr}`,
);

const child = Bun.spawn([binary, "-addr", "127.0.0.1:0"], {
  cwd: dir,
  // Jetstream on a closed loopback port: the smoke test never leaves this machine.
  env: {
    TACK_HOSTNAME: "smoke.test",
    TACK_OWNER_DID: OWNER,
    TACK_JETSTREAM_URL: "ws://127.0.0.1:9/subscribe",
  },
  stdout: "pipe",
  stderr: "pipe",
});
const port = await listeningPort(child.stdout);
check("starts and logs its port", port > 0);
const base = `127.0.0.1:${port}`;

try {
  const root = await fetch(`http://${base}/`);
  check("GET / banner", root.status === 200 && (await root.text()).includes("tack server"));
  const page = await fetch(`http://${base}/`, { headers: { accept: "text/html" } });
  check(
    "GET / from a browser: the status page",
    page.status === 200 && (await page.text()).includes('id="health"'),
  );
  const health = (await (await fetch(`http://${base}/healthz`)).json()) as {
    schema_version?: unknown;
  };
  check("/healthz reports the schema version", typeof health.schema_version === "number");
  const second = Bun.spawnSync([binary, "-addr", "127.0.0.1:0"], {
    cwd: dir,
    env: {
      TACK_HOSTNAME: "smoke.test",
      TACK_OWNER_DID: OWNER,
      TACK_JETSTREAM_URL: "ws://127.0.0.1:9/subscribe",
    },
  });
  check(
    "a second tack on the same database refuses to start",
    second.exitCode === 1 &&
      /^tack: database .* is in use by another tack/.test(second.stderr.toString()),
    `exit ${second.exitCode}: ${second.stderr}`,
  );
  const missing = await fetch(`http://${base}/nope`);
  check("unknown path 404", missing.status === 404);
  const owner = await fetch(`http://${base}/xrpc/sh.tangled.owner`);
  const ownerBody = (await owner.json()) as { owner?: unknown };
  check("owner", owner.status === 200 && ownerBody.owner === OWNER);
  const logs = await fetch(`http://${base}/logs/knot/3m6mxh2znw222/ci.yml`, {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
    },
  });
  check("/logs for an unknown workflow 404", logs.status === 404);
  const events = new WebSocket(`ws://${base}/events`);
  const opened = await new Promise<boolean>((done) => {
    events.onopen = () => done(true);
    events.onerror = () => done(false);
  });
  check("/events upgrades", opened);
  const closed = new Promise<number>((done) => {
    events.onclose = (event) => done(event.code);
  });
  check("database created with migrations", existsSync(join(dir, "tack.db")));

  const started = performance.now();
  child.kill("SIGTERM");
  const exitCode = await Promise.race([child.exited, Bun.sleep(5_000).then(() => -1)]);
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  check(`SIGTERM → exit 0 within 5 s (${seconds} s)`, exitCode === 0, `exit ${exitCode}`);
  check("/events closed with 1001", (await closed) === 1001);
} finally {
  child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}

if (failures > 0) {
  console.error(`smoke: ${failures} check(s) failed`);
  process.exit(1);
}
console.log("smoke: all checks passed");

async function listeningPort(stream: ReadableStream<Uint8Array>): Promise<number> {
  const decoder = new TextDecoder();
  let buffer = "";
  const deadline = setTimeout(() => child.kill("SIGKILL"), 10_000);
  for await (const chunk of stream) {
    buffer += decoder.decode(chunk);
    for (const line of buffer.split("\n")) {
      const match = /"msg":"tack: listening".*"port":(\d+)/.exec(line);
      if (match) {
        clearTimeout(deadline);
        return Number(match[1]);
      }
    }
  }
  clearTimeout(deadline);
  return 0;
}
