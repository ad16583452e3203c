/**
 * `bun scripts/deploy-check.ts`: follows docs/deploy.md start to finish on this machine, as far
 * as a machine without systemd as PID 1 allows, with the release in dist/ (`bun run release`).
 *
 * Everything is installed under a fresh temporary root (ROOT/usr/local/bin/tack,
 * ROOT/etc/tack/env, ROOT/var/lib/tack, ROOT/var/backups/tack), never into the real system.
 * Where the guide says `systemctl start tack`, the binary is started by hand with the
 * environment systemd would give it (the unit's Environment= lines, then the env file parsed
 * by systemd's rules, scripts/systemd-env.ts), as `nobody` with a state directory it owns, the
 * way DynamicUser= runs it. Upstreams are local stand-ins; nothing leaves 127.0.0.1.
 *
 * What it cannot check is listed at the end of its output and in docs/deploy.md.
 * Exits non-zero on the first failed step.
 */

import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { $ } from "bun";
import { parseEnvironmentFile, unitEnvironment } from "./systemd-env.ts";

const DIST = resolve(process.argv[2] ?? "dist");
const DEPLOY = resolve("deploy");
const ROOT = mkdtempSync(join(tmpdir(), "tack-deploy-check-"));
chmodSync(ROOT, 0o755); // `nobody` must reach the binary and its state directory
const BIN = join(ROOT, "usr/local/bin/tack");
const ENV_FILE = join(ROOT, "etc/tack/env");
const STATE = join(ROOT, "var/lib/tack");
const DB = join(STATE, "tack.db");
const BACKUPS = join(ROOT, "var/backups/tack");
const OWNER = "did:plc:7iza6de2dwap2sbkpav7c6c6";
const isRoot = process.getuid?.() === 0;
const canDrop = isRoot && Bun.which("setpriv") !== null;
const serviceUser = canDrop ? { uid: 65534, gid: 65534 } : undefined;

const cleanups: (() => unknown)[] = [];
let step = 0;
async function check(what: string, run: () => unknown | Promise<unknown>): Promise<void> {
  step++;
  try {
    const note = await run();
    console.log(
      `ok   ${String(step).padStart(2)} ${what}${typeof note === "string" ? ` (${note})` : ""}`,
    );
  } catch (error) {
    console.log(
      `FAIL ${String(step).padStart(2)} ${what}: ${error instanceof Error ? error.message : String(error)}`,
    );
    await cleanup();
    process.exit(1);
  }
}
function skip(what: string, why: string): void {
  step++;
  console.log(`skip ${String(step).padStart(2)} ${what}: ${why}`);
}
function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}
async function cleanup(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await fn();
  rmSync(ROOT, { recursive: true, force: true });
}

// A local Jetstream: accepts the subscription and stays quiet.
const jetstream = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch: (request, server) =>
    server.upgrade(request) ? undefined : new Response("upgrade required", { status: 426 }),
  websocket: { message() {} },
});
cleanups.push(() => jetstream.stop(true));
// A local PLC directory: knows every DID it is asked for, as plc.directory knows real ones.
const plc = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch: (request) => {
    const did = decodeURIComponent(new URL(request.url).pathname.slice(1));
    return did.startsWith("did:plc:")
      ? Response.json({ id: did, verificationMethod: [], service: [] })
      : Response.json({ version: "stand-in" });
  },
});
cleanups.push(() => plc.stop(true));
const port = await freePort();

// 1. The binary
await check("release files match SHA256SUMS (sha256sum -c)", async () => {
  const result = await $`sha256sum -c SHA256SUMS`.cwd(DIST).nothrow().quiet();
  assert(result.exitCode === 0, result.stdout.toString() + result.stderr.toString());
  const listed = readFileSync(join(DIST, "SHA256SUMS"), "utf8");
  for (const file of (await $`ls ${DEPLOY}`.text()).trim().split("\n")) {
    assert(listed.includes(`  ${file}\n`), `deploy/${file} is not published in SHA256SUMS`);
    assert(
      readFileSync(join(DIST, file)).equals(readFileSync(join(DEPLOY, file))),
      `dist/${file} differs from deploy/${file}`,
    );
  }
  return `${listed.trim().split("\n").length} files`;
});
const binary = await pickBinary();
await check(`install -m 0755 ${binary} /usr/local/bin/tack; tack version`, async () => {
  mkdirSync(join(ROOT, "usr/local/bin"), { recursive: true, mode: 0o755 });
  await $`install -m 0755 ${join(DIST, binary)} ${BIN}`.quiet();
  const version = (await $`${BIN} version`.text()).trim();
  assert(/^tack \d+\.\d+\.\d+ \(\S+\) schema \d+$/.test(version), `unexpected: ${version}`);
  return version;
});

// 2. Configuration
await check("install -d -m 0750 /etc/tack; install -m 0600 env.example /etc/tack/env; edit", () => {
  mkdirSync(join(ROOT, "etc/tack"), { recursive: true, mode: 0o750 });
  copyFileSync(join(DIST, "env.example"), ENV_FILE);
  chmodSync(ENV_FILE, 0o600);
  // The operator's edit: their DID is already the example's; Jetstream and the PLC directory
  // are local stand-ins.
  const edited = `${readFileSync(ENV_FILE, "utf8")}\n# Local stand-ins for this check.\nTACK_JETSTREAM_URL=ws://127.0.0.1:${jetstream.port}/subscribe\nTACK_PLC_URL=http://127.0.0.1:${plc.port}\n`;
  writeFileSync(ENV_FILE, edited);
  assert((statSync(ENV_FILE).mode & 0o777) === 0o600, "env file is not 0600");
});
const serviceEnv = await check_environment();
await check("tack check passes with the environment systemd would give the service", async () => {
  const result = await run([BIN, "check"], { ...serviceEnv, TACK_DB_PATH: DB });
  assert(result.code === 0, result.output);
  return "every row ok";
});

// 3. systemd
if (Bun.which("systemd-analyze")) {
  await check(
    "systemd-analyze verify tack.service tack-backup.service tack-backup.timer",
    async () => {
      const units = join(ROOT, "units");
      mkdirSync(units);
      for (const unit of ["tack.service", "tack-backup.service", "tack-backup.timer"]) {
        // Only the binary's path is moved to where this check installed it.
        const text = readFileSync(join(DIST, unit), "utf8").replaceAll("/usr/local/bin/tack", BIN);
        writeFileSync(join(units, unit), text);
      }
      const result =
        await $`systemd-analyze verify ${units}/tack.service ${units}/tack-backup.service ${units}/tack-backup.timer`
          .nothrow()
          .quiet();
      const output = (result.stdout.toString() + result.stderr.toString()).trim();
      assert(result.exitCode === 0 && output === "", output || `exit ${result.exitCode}`);
    },
  );
} else skip("systemd-analyze verify", "systemd-analyze is not installed");

await check(
  `StateDirectory=tack: ${STATE} (0700, owned by ${serviceUser ? "nobody, as DynamicUser= would" : "this user"})`,
  () => {
    mkdirSync(STATE, { recursive: true, mode: 0o700 });
    mkdirSync(join(ROOT, "var/lib"), { recursive: true });
    chmodSync(join(ROOT, "var"), 0o755);
    chmodSync(join(ROOT, "var/lib"), 0o755);
    if (serviceUser) chownSync(STATE, serviceUser.uid, serviceUser.gid);
  },
);
let service = await check_start("systemctl enable --now tack (started by hand, as the unit would)");
await check("curl /, /xrpc/sh.tangled.owner and /healthz", async () => {
  const root = await fetch(`http://127.0.0.1:${port}/`);
  assert(root.status === 200 && (await root.text()).includes("tack server"), "no banner on /");
  const owner = (await (await fetch(`http://127.0.0.1:${port}/xrpc/sh.tangled.owner`)).json()) as {
    owner?: string;
  };
  assert(owner.owner === OWNER, `owner is ${owner.owner}`);
  const health = await fetch(`http://127.0.0.1:${port}/healthz`);
  const report = (await health.json()) as { status: string; schema_version: number };
  assert(health.status === 200 && report.status === "ok", JSON.stringify(report));
  return `status ${report.status}, schema ${report.schema_version}`;
});
await check("a second tack on the same database refuses to start, in one line", async () => {
  const result = await run([BIN], { ...serviceEnv, TACK_LISTEN_ADDR: "127.0.0.1:0" });
  assert(result.code === 1, `exit ${result.code}`);
  assert(
    /^tack: database .* is in use by another tack \(pid \d+/.test(result.stderr),
    result.stderr,
  );
});

// 4. Reverse proxy
if (Bun.which("nginx") && Bun.which("openssl")) {
  await check(
    "nginx -t on deploy/nginx.conf, then TLS and WebSocket upgrades through it",
    async () => {
      const nginx = join(ROOT, "nginx");
      mkdirSync(nginx);
      await $`openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=spindle.example.com -keyout ${nginx}/key.pem -out ${nginx}/cert.pem`.quiet();
      const tlsPort = await freePort();
      const snippet = readFileSync(join(DIST, "nginx.conf"), "utf8")
        .replace("/etc/letsencrypt/live/spindle.example.com/fullchain.pem", `${nginx}/cert.pem`)
        .replace("/etc/letsencrypt/live/spindle.example.com/privkey.pem", `${nginx}/key.pem`)
        .replace("listen 443 ssl http2;", `listen 127.0.0.1:${tlsPort} ssl http2;`)
        .replace("listen [::]:443 ssl http2;", "")
        .replace("proxy_pass http://127.0.0.1:8080;", `proxy_pass http://127.0.0.1:${port};`);
      writeFileSync(join(nginx, "tack.conf"), snippet);
      const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
        .map((kind) => `${kind}_temp_path ${nginx}/${kind};`)
        .join(" ");
      writeFileSync(
        join(nginx, "nginx.conf"),
        `pid ${nginx}/nginx.pid;\nerror_log stderr;\ndaemon off;\nevents {}\nhttp {\n  access_log off;\n  ${temp}\n  include ${nginx}/tack.conf;\n}\n`,
      );
      const test = await $`nginx -t -c ${nginx}/nginx.conf`.nothrow().quiet();
      assert(test.exitCode === 0, test.stderr.toString());
      const proxy = Bun.spawn(["nginx", "-c", `${nginx}/nginx.conf`], { stderr: "pipe" });
      cleanups.push(() => proxy.kill("SIGKILL"));
      const base = `127.0.0.1:${tlsPort}`;
      await until(
        async () =>
          (
            await fetch(`https://${base}/`, { tls: { rejectUnauthorized: false } }).catch(
              () => undefined,
            )
          )?.status === 200,
        "nginx answering",
      );
      const banner = await (
        await fetch(`https://${base}/`, { tls: { rejectUnauthorized: false } })
      ).text();
      assert(banner.includes("tack server"), "no banner through nginx");
      const socket = new WebSocket(`wss://${base}/events`, {
        tls: { rejectUnauthorized: false },
      } as unknown as string[]);
      const opened = await new Promise<boolean>((done) => {
        socket.onopen = () => done(true);
        socket.onerror = () => done(false);
      });
      socket.close();
      assert(opened, "/events did not upgrade through nginx");
      proxy.kill("SIGQUIT");
      await proxy.exited;
      const version = (await $`nginx -v`.nothrow().quiet()).stderr.toString().trim();
      return version;
    },
  );
} else skip("nginx -t and proxying", "nginx or openssl is not installed");

// 6. Operating it: backups and restore
let backup = "";
await check(
  "the backup timer's command, with tack running: creates the directory 0700, the file 0600",
  async () => {
    const unit = readFileSync(join(DIST, "tack-backup.service"), "utf8");
    const exec = /^ExecStart=\/bin\/sh -c '(.*)'$/m.exec(unit)?.[1];
    assert(exec, "no ExecStart in tack-backup.service");
    const command = exec
      .replaceAll("%%", "%")
      .replaceAll("/usr/local/bin/tack", BIN)
      .replaceAll("/var/backups/tack", BACKUPS);
    const env = unitEnvironment(unit);
    const result = await run(["/bin/sh", "-c", command], { ...env, TACK_DB_PATH: DB });
    assert(result.code === 0, result.output);
    backup = /wrote (\S+)/.exec(result.output)?.[1] ?? "";
    assert(existsSync(backup), `no backup: ${result.output}`);
    assert((statSync(BACKUPS).mode & 0o777) === 0o700, "backup directory is not 0700");
    assert((statSync(backup).mode & 0o777) === 0o600, "backup is not 0600");
    return backup.slice(ROOT.length);
  },
);
await check("tack restore refuses while tack runs", async () => {
  const result = await run([BIN, "restore", backup], { TACK_DB_PATH: DB });
  assert(result.code === 1 && result.output.includes("is in use by another tack"), result.output);
});
await check("systemctl stop tack: SIGTERM, exit 0", async () => {
  service.kill("SIGTERM");
  const code = await service.exited;
  assert(code === 0, `exit ${code}`);
});
await check(
  "tack restore <backup> as root keeps the database's owner; tack starts and writes",
  async () => {
    const result = await run([BIN, "restore", backup], { TACK_DB_PATH: DB });
    assert(result.code === 0, result.output);
    const stat = statSync(DB);
    if (serviceUser) assert(stat.uid === serviceUser.uid, `owner is ${stat.uid}`);
    service = await start();
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    const report = (await health.json()) as { database: { writable: boolean } };
    assert(health.status === 200 && report.database.writable, JSON.stringify(report));
    return result.output.trim().replaceAll(ROOT, "");
  },
);

// 7. Upgrading
await check("upgrade: install tack.new, version, backup && mv && restart", async () => {
  await $`install -m 0755 ${join(DIST, binary)} ${BIN}.new`.quiet();
  await $`${BIN}.new version`.quiet();
  const before = join(BACKUPS, "tack-before-upgrade.db");
  const saved = await run([BIN, "backup", before], { TACK_DB_PATH: DB });
  assert(saved.code === 0, saved.output);
  await $`mv ${BIN}.new ${BIN}`.quiet();
  service.kill("SIGTERM");
  assert((await service.exited) === 0, "stop before the restart failed");
  service = await start();
  return "restarted";
});
await check(
  "without TACK_DB_PATH, tack backup fails and says so (the guide chains it with &&)",
  async () => {
    const result = await run([BIN, "backup", join(BACKUPS, "x.db")], {}, ROOT);
    assert(result.code === 1 && result.output.includes("set TACK_DB_PATH"), result.output);
  },
);

service.kill("SIGTERM");
await service.exited;
await cleanup();
console.log(`deploy-check: all steps passed (${step})`);
console.log(
  "not checked here (needs systemd as PID 1, a public name or Tangled): DynamicUser= and the sandboxing options at run time, Restart= and the stop timeout, journald's priorities, the timer firing, a real certificate, registration in Tangled",
);

// ---------------------------------------------------------------------------------------------

async function check_environment(): Promise<Record<string, string>> {
  let env: Record<string, string> = {};
  await check(
    "the env file reads the same to systemd and to the shell pre-flight (no inline comments)",
    async () => {
      const systemd = parseEnvironmentFile(readFileSync(ENV_FILE, "utf8"));
      const shell = await $`sh -c ${`set -a; . ${ENV_FILE}; set +a; env`}`.env({}).text();
      for (const [key, value] of Object.entries(systemd)) {
        assert(
          shell.includes(`\n${key}=${value}\n`) || shell.startsWith(`${key}=${value}\n`),
          `${key} differs: systemd reads ${JSON.stringify(value)}`,
        );
      }
      const unit = unitEnvironment(readFileSync(join(DIST, "tack.service"), "utf8"));
      env = { ...unit, TACK_DB_PATH: DB, TACK_LISTEN_ADDR: `127.0.0.1:${port}`, ...systemd };
      return Object.keys(systemd).join(", ");
    },
  );
  return env;
}

async function check_start(what: string): Promise<ReturnType<typeof Bun.spawn>> {
  let child: ReturnType<typeof Bun.spawn> | undefined;
  await check(what, async () => {
    child = await start();
  });
  if (!child) throw new Error("unreachable");
  return child;
}

/** Starts the installed binary as the unit would: its environment, its user, its directory. */
async function start(): Promise<ReturnType<typeof Bun.spawn>> {
  const drop = serviceUser
    ? [
        "setpriv",
        `--reuid=${serviceUser.uid}`,
        `--regid=${serviceUser.gid}`,
        "--clear-groups",
        "--",
      ]
    : [];
  // UMask=0077, as in the unit: the files tack creates are the service user's alone.
  const umask = process.umask(0o077);
  const child = Bun.spawn([...drop, BIN], {
    cwd: STATE,
    env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ...serviceEnv },
    stdout: "pipe",
    stderr: "pipe",
  });
  process.umask(umask);
  cleanups.push(() => child.kill("SIGKILL"));
  const decoder = new TextDecoder();
  let buffer = "";
  const reader = child.stdout.getReader();
  const deadline = setTimeout(() => child.kill("SIGKILL"), 15_000);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value);
    if (buffer.includes('"msg":"tack: listening"')) {
      clearTimeout(deadline);
      reader.releaseLock();
      void drain(child.stdout);
      return child;
    }
  }
  clearTimeout(deadline);
  throw new Error(`tack did not start: ${buffer}${await new Response(child.stderr).text()}`);
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<void> {
  for await (const _ of stream) {
    // discard: the service's log is not under test here
  }
}

async function run(command: string[], env: Record<string, string>, cwd = ROOT) {
  const child = Bun.spawn(command, {
    cwd,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { code, stdout, stderr, output: stdout + stderr };
}

/** The binary the guide's table picks for this machine. */
async function pickBinary(): Promise<string> {
  const arch = (await $`uname -m`.text()).trim();
  if (arch === "aarch64" || arch === "arm64") return "tack-linux-arm64";
  const avx2 = readFileSync("/proc/cpuinfo", "utf8").includes(" avx2");
  return avx2 ? "tack-linux-x64" : "tack-linux-x64-baseline";
}

async function freePort(): Promise<number> {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const free = probe.port ?? 0;
  probe.stop(true);
  return free;
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}
