/** The real entry point as a process: exit codes and the one-line configuration errors. */
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { FakeAtproto } from "../helpers/fake-atproto.ts";
import { FakeJetstream } from "../helpers/fake-jetstream.ts";
import { tempDir } from "../helpers/tack.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

const MAIN = join(import.meta.dir, "..", "..", "src", "main.ts");
// `tack check` connects to Jetstream: a local stand-in, never the public one.
const jetstream = FakeJetstream.start();
const plc = FakeAtproto.start();
plc.addIdentity("did:plc:abc");
afterAll(() => {
  jetstream.stop();
  plc.stop();
});

// Asynchronous: the Jetstream stand-in lives in this process and must answer meanwhile. Each
// test is its own process in its own directory, so they run side by side.
async function run(args: string[], env: Record<string, string>) {
  const child = Bun.spawn(["bun", MAIN, ...args], {
    cwd: tempDir(),
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { code, stdout, stderr };
}

test.concurrent("a missing TACK_OWNER_DID prints one line naming it and exits 2", async () => {
  const { code, stdout, stderr } = await run([], { TACK_HOSTNAME: "spindle.example.com" });
  expect(code).toBe(2);
  expect(stdout).toBe("");
  expect(stderr.trim().split("\n")).toHaveLength(1);
  expect(stderr).toStartWith("tack: TACK_OWNER_DID is required");
});

test.concurrent("a bad listen address exits 2 naming TACK_LISTEN_ADDR", async () => {
  const { code, stderr } = await run([], {
    TACK_HOSTNAME: "spindle.example.com",
    TACK_OWNER_DID: "did:plc:abc",
    TACK_LISTEN_ADDR: "eighty",
  });
  expect(code).toBe(2);
  expect(stderr).toStartWith("tack: TACK_LISTEN_ADDR: invalid value");
});

test.concurrent("--help and version exit 0 without any configuration", async () => {
  const help = await run(["--help"], {});
  expect(help.code).toBe(0);
  expect(help.stdout).toContain("TACK_OWNER_DID");
  // Every provider a workflow can name, each with what switches it on.
  for (const name of ["fake", "buildkite", "github", "gitlab", "sourcehut"]) {
    expect(help.stdout).toMatch(
      new RegExp(`^  ${name} +\\S.*, (always on|on with TACK_\\w+) \\(`, "m"),
    );
  }
  const version = await run(["version"], {});
  expect(version.code).toBe(0);
  expect(version.stdout).toMatch(/^tack \d+\.\d+\.\d+ \(.+\) schema \d+\n$/);
});

test.concurrent("an unknown argument exits 2", async () => {
  const { code, stderr } = await run(["--frobnicate"], {});
  expect(code).toBe(2);
  expect(stderr).toContain("--frobnicate");
});

test.concurrent("tack check: a working configuration prints a table of OK rows and exits 0", async () => {
  const { code, stdout } = await run(["check"], {
    TACK_HOSTNAME: "spindle.example.com",
    TACK_OWNER_DID: "did:plc:abc",
    TACK_JETSTREAM_URL: jetstream.url,
    TACK_PLC_URL: plc.url,
  });
  expect(code).toBe(0);
  const lines = stdout.trim().split("\n");
  expect(lines[0]).toMatch(/^CHECK\s+STATUS\s+DETAIL$/);
  // check never creates (or migrates) the database: the service does, as its own user.
  expect(lines.find((l) => l.startsWith("database"))).toMatch(
    /^database\s+ok\s+tack\.db does not exist yet; tack creates it at first start/,
  );
  expect(lines.find((l) => l.startsWith("jetstream"))).toMatch(
    /^jetstream\s+ok\s+127\.0\.0\.1:\d+ accepted the subscription$/,
  );
});

test.concurrent("tack check: a bad configuration is a FAIL row and exit 2", async () => {
  const { code, stdout } = await run(["check"], { TACK_HOSTNAME: "spindle.example.com" });
  expect(code).toBe(2);
  expect(stdout).toMatch(/configuration\s+FAIL\s+TACK_OWNER_DID is required/);
});

test.concurrent("tack check never prints a secret", async () => {
  const { code, stdout, stderr } = await run(["check"], {
    TACK_HOSTNAME: "spindle.example.com",
    TACK_OWNER_DID: "did:plc:abc",
    TACK_BUILDKITE_TOKEN: "bkua_supersecret_value",
    TACK_JETSTREAM_URL: jetstream.url,
  });
  expect(code).toBe(2);
  expect(stdout).toContain("TACK_BUILDKITE_ORG is required when TACK_BUILDKITE_TOKEN is set");
  expect(stdout + stderr).not.toContain("supersecret");
});

test.concurrent("tack backup without a file name explains itself and exits 2", async () => {
  const { code, stdout } = await run(["backup"], {});
  expect(code).toBe(2);
  expect(stdout).toContain("name the file to write");
});
