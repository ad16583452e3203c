/**
 * `bun run smoke [dist/tack]`: runs the compiled binary the way an operator would, from an
 * empty directory with no sources around it, and checks what a deployment relies on:
 * configuration errors exit 2, the banner, the owner check, /events, /logs 404, and SIGTERM →
 * exit 0 within 5 s with WebSockets closed 1001. Then a push end to end, against a local
 * Jetstream, knot and PLC directory: the pipeline runs on the fake CI, its log arrives as CBOR
 * frames over sh.tangled.ci.subscribePipelineLogs, and the owner's service-auth token starts a
 * manual run. Those two paths load modules the binary keeps out of start-up (DAG-CBOR, the
 * signature check), so they are run here, in the binary itself. Exits non-zero if any check
 * failed.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { decodeMultiple } from "cbor-x";
import { FakeAtproto } from "../test/helpers/fake-atproto.ts";
import { FakeJetstream } from "../test/helpers/fake-jetstream.ts";
import { FakeKnot } from "../test/helpers/fake-knot.ts";
import { createSigner, serviceToken } from "../test/helpers/service-auth.ts";
import { followedRepo } from "../test/helpers/tangled-network.ts";
import { eventually } from "../test/helpers/wait.ts";
import { freshSha, refUpdateRecord } from "../test/helpers/wire.ts";

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
const port = await followLog(child).port;
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

await endToEnd();

if (failures > 0) {
  console.error(`smoke: ${failures} check(s) failed`);
  process.exit(1);
}
console.log("smoke: all checks passed");

/** A push through the binary, its log as CBOR frames, and a manual run with service auth. */
async function endToEnd(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), "tack-smoke-e2e-"));
  const jetstream = FakeJetstream.start();
  const knot = FakeKnot.start();
  const atproto = FakeAtproto.start();
  const signer = createSigner("ES256K");
  atproto.addIdentity(OWNER, { signingKey: signer.multikey });
  const repoDid = "did:plc:smokerepo00000000000000";
  const workflow = "when:\n  - event: [push]\n    branch: main\nengine: tack\ntack:\n  fake: {}\n";
  const service = Bun.spawn([binary, "-addr", "127.0.0.1:0"], {
    cwd: home,
    env: {
      TACK_HOSTNAME: "smoke.test",
      TACK_OWNER_DID: OWNER,
      TACK_JETSTREAM_URL: jetstream.url,
      TACK_PLC_URL: atproto.url,
      // Loopback knots and the fake CI.
      TACK_DEV: "true",
    },
    stdout: "pipe",
    stderr: "inherit",
  });
  const log = followLog(service);
  try {
    const base = `127.0.0.1:${await log.port}`;
    await followedRepo(jetstream, knot, { did: OWNER, spindle: "smoke.test", repoDid });
    const sha = freshSha();
    knot.commit(repoDid, sha, [{ name: "ci.yml", content: workflow }]);
    knot.push("sh.tangled.git.refUpdate", refUpdateRecord({ repo: repoDid, newSha: sha }));
    const pipeline = await eventually(
      async () =>
        (
          (await (
            await fetch(`http://${base}/xrpc/sh.tangled.ci.queryPipelines?repo=${repoDid}`)
          ).json()) as { pipelines?: { id: string; workflows?: { status?: string }[] }[] }
        ).pipelines?.[0],
      (first) => first?.workflows?.[0]?.status === "success",
      "the pushed pipeline to finish on the fake CI",
    );
    const rkey = pipeline?.id ?? "";
    check("a push runs its workflow on the fake CI", rkey !== "");

    const frames = await logFrames(
      `ws://${base}/xrpc/sh.tangled.ci.subscribePipelineLogs?pipeline=${rkey}`,
    );
    check(
      "subscribePipelineLogs sends the log as CBOR frames",
      frames.some(([header]) => (header as { t?: unknown })?.t === "#data"),
      JSON.stringify(frames.slice(0, 2)),
    );

    const method = "sh.tangled.ci.triggerPipeline";
    const manual = await fetch(`http://${base}/xrpc/${method}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${serviceToken(signer, { iss: OWNER, aud: "did:web:smoke.test", lxm: method })}`,
      },
      body: JSON.stringify({
        repo: repoDid,
        trigger: { $type: "sh.tangled.ci.trigger#manual", sha },
      }),
    });
    const answer = await manual.text();
    check(
      "a manual run with the owner's service-auth token",
      manual.status === 200 && answer.includes("sh.tangled.pipeline/"),
      `${manual.status} ${answer}`,
    );
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    check("end to end", false, `${reason}; tack's last lines:\n${log.lines.slice(-10).join("\n")}`);
  } finally {
    service.kill("SIGKILL");
    await service.exited;
    jetstream.stop();
    knot.stop();
    atproto.stop();
    rmSync(home, { recursive: true, force: true });
  }
}

/** Every message of a log stream until the server closes it, each decoded as [header, body]. */
async function logFrames(url: string): Promise<unknown[][]> {
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  const frames: unknown[][] = [];
  socket.onmessage = (message) => {
    frames.push(decodeMultiple(new Uint8Array(message.data as ArrayBuffer)) as unknown[]);
  };
  await new Promise((done) => {
    socket.onclose = done;
  });
  return frames;
}

/**
 * Reads a tack's log (stdout) line by line, for as long as it runs: `port` resolves with the
 * port it says it listens on (0 if it does not within 10 s), `lines` holds what it said.
 */
function followLog(service: { stdout: ReadableStream<Uint8Array>; kill(): void }): {
  port: Promise<number>;
  lines: string[];
} {
  const lines: string[] = [];
  const port = Promise.withResolvers<number>();
  const deadline = setTimeout(() => {
    service.kill();
    port.resolve(0);
  }, 10_000);
  void (async () => {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of service.stdout) {
      const parts = (rest + decoder.decode(chunk, { stream: true })).split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) {
        lines.push(line);
        const match = /"msg":"tack: listening".*"port":(\d+)/.exec(line);
        if (match) {
          clearTimeout(deadline);
          port.resolve(Number(match[1]));
        }
      }
    }
    clearTimeout(deadline);
    port.resolve(0);
  })();
  return { port: port.promise, lines };
}
