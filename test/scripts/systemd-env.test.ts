/**
 * The environment file the deploy guide ships, read the way systemd reads it (#15, defect 1):
 * an inline comment stays in the value, so the example must have none, and tack must say so.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { parseEnvironmentFile, unitEnvironment } from "../../scripts/systemd-env.ts";
import { ConfigError, loadConfig } from "../../src/config.ts";

const DEPLOY = join(import.meta.dir, "..", "..", "deploy");

test("systemd's rules: whole-line comments only, quotes, escapes, continuations, trailing blanks", () => {
  const env = parseEnvironmentFile(
    [
      "# a comment",
      "; another",
      "  A=plain value   ",
      "B=kept # not a comment",
      "C='single # quoted'",
      'D="double \\"escaped\\" \\$HOME"',
      "E=one\\",
      "two",
      "no equals sign here",
      "F=",
      "export G=ignored-name",
    ].join("\n"),
  );
  expect(env).toEqual({
    A: "plain value",
    B: "kept # not a comment",
    C: "single # quoted",
    D: 'double "escaped" $HOME',
    E: "onetwo",
    F: "",
  });
});

test("the shipped env example parses, as systemd reads it, into a valid configuration (#15)", async () => {
  const env = parseEnvironmentFile(await Bun.file(join(DEPLOY, "env.example")).text());
  expect(env).toEqual({
    TACK_HOSTNAME: "spindle.example.com",
    TACK_OWNER_DID: "did:plc:7iza6de2dwap2sbkpav7c6c6",
  });
  const unit = unitEnvironment(await Bun.file(join(DEPLOY, "tack.service")).text());
  expect(unit).toEqual({
    TACK_DB_PATH: "/var/lib/tack/tack.db",
    TACK_LISTEN_ADDR: "127.0.0.1:8080",
    MIMALLOC_PURGE_DELAY: "1000",
  });
  expect(loadConfig({ ...unit, ...env }).config.hostname).toBe("spindle.example.com");
});

test("the old example's inline comments reach tack, which says systemd kept them (#15)", () => {
  const env = parseEnvironmentFile(
    "TACK_HOSTNAME=spindle.example.com          # the public name; repos will name it as their spindle\n",
  );
  expect(env.TACK_HOSTNAME).toStartWith("spindle.example.com          # the public name");
  expect(() => loadConfig({ ...env, TACK_OWNER_DID: "did:plc:abc" })).toThrow(ConfigError);
  expect(() => loadConfig({ ...env, TACK_OWNER_DID: "did:plc:abc" })).toThrow(
    /systemd's EnvironmentFile= does not strip/,
  );
});
