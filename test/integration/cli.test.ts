/** The real entry point as a process: exit codes and the one-line configuration errors. */
import { expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { tempDir } from "../helpers/tack.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

const MAIN = join(import.meta.dir, "..", "..", "src", "main.ts");

function run(args: string[], env: Record<string, string>) {
  const result = Bun.spawnSync(["bun", MAIN, ...args], {
    cwd: tempDir(),
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
  });
  return {
    code: result.exitCode,
    stdout: result.stdout.toString(),
    stderr: result.stderr.toString(),
  };
}

test("a missing TACK_OWNER_DID prints one line naming it and exits 2", () => {
  const { code, stdout, stderr } = run([], { TACK_HOSTNAME: "spindle.example.com" });
  expect(code).toBe(2);
  expect(stdout).toBe("");
  expect(stderr.trim().split("\n")).toHaveLength(1);
  expect(stderr).toStartWith("tack: TACK_OWNER_DID is required");
});

test("a bad listen address exits 2 naming TACK_LISTEN_ADDR", () => {
  const { code, stderr } = run([], {
    TACK_HOSTNAME: "spindle.example.com",
    TACK_OWNER_DID: "did:plc:abc",
    TACK_LISTEN_ADDR: "eighty",
  });
  expect(code).toBe(2);
  expect(stderr).toStartWith("tack: TACK_LISTEN_ADDR: invalid value");
});

test("--help and version exit 0 without any configuration", () => {
  const help = run(["--help"], {});
  expect(help.code).toBe(0);
  expect(help.stdout).toContain("TACK_OWNER_DID");
  const version = run(["version"], {});
  expect(version.code).toBe(0);
  expect(version.stdout).toMatch(/^tack \d+\.\d+\.\d+ \(.+\)\n$/);
});

test("an unknown argument exits 2", () => {
  const { code, stderr } = run(["--frobnicate"], {});
  expect(code).toBe(2);
  expect(stderr).toContain("--frobnicate");
});

test("tack check: a working configuration prints a table of OK rows and exits 0", () => {
  const { code, stdout } = run(["check"], {
    TACK_HOSTNAME: "spindle.example.com",
    TACK_OWNER_DID: "did:plc:abc",
  });
  expect(code).toBe(0);
  const lines = stdout.trim().split("\n");
  expect(lines[0]).toMatch(/^CHECK\s+STATUS\s+DETAIL$/);
  expect(lines.find((l) => l.startsWith("database"))).toMatch(
    /^database\s+ok\s+tack\.db opened and migrated$/,
  );
});

test("tack check: a bad configuration is a FAIL row and exit 2", () => {
  const { code, stdout } = run(["check"], { TACK_HOSTNAME: "spindle.example.com" });
  expect(code).toBe(2);
  expect(stdout).toMatch(/configuration\s+FAIL\s+TACK_OWNER_DID is required/);
});

test("tack check never prints a secret", () => {
  const { code, stdout, stderr } = run(["check"], {
    TACK_HOSTNAME: "spindle.example.com",
    TACK_OWNER_DID: "did:plc:abc",
    TACK_BUILDKITE_TOKEN: "bkua_supersecret_value",
  });
  expect(code).toBe(2);
  expect(stdout).toContain("TACK_BUILDKITE_ORG is required when TACK_BUILDKITE_TOKEN is set");
  expect(stdout + stderr).not.toContain("supersecret");
});

test("tack backup without a file name explains itself and exits 2", () => {
  const { code, stdout } = run(["backup"], {});
  expect(code).toBe(2);
  expect(stdout).toContain("name the file to write");
});
