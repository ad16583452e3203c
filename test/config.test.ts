import { describe, expect, test } from "bun:test";
import { parseArgs } from "../src/cli.ts";
import { ConfigError, loadConfig, parseListenAddress } from "../src/config.ts";

const required = { TACK_HOSTNAME: "spindle.example.com", TACK_OWNER_DID: "did:plc:abc123" };

function errorOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  test("applies the Go tack's defaults", () => {
    const { config } = loadConfig(required);
    expect(config).toEqual({
      hostname: "spindle.example.com",
      ownerDid: "did:plc:abc123",
      listen: { hostname: "0.0.0.0", port: 8080 },
      dbPath: "tack.db",
      jetstreamUrl: "wss://jetstream1.us-west.bsky.network/subscribe",
      plcUrl: "https://plc.directory",
      dev: false,
      logLevel: "info",
      eventsRetentionMs: 30 * 86_400_000,
      eventsBufferCapBytes: 64 << 20,
      // The fake provider needs no account, so it is always on.
      providers: { fake: {} },
    });
  });

  test("reads every variable", () => {
    const { config } = loadConfig({
      ...required,
      TACK_LISTEN_ADDR: "[::1]:9000",
      TACK_DB_PATH: "/var/lib/tack/tack.db",
      TACK_JETSTREAM_URL: "ws://127.0.0.1:6008/subscribe",
      TACK_DEV: "true",
      TACK_LOG_LEVEL: "debug",
    });
    expect(config.listen).toEqual({ hostname: "::1", port: 9000 });
    expect(config.dbPath).toBe("/var/lib/tack/tack.db");
    expect(config.jetstreamUrl).toBe("ws://127.0.0.1:6008/subscribe");
    expect(config.dev).toBe(true);
    expect(config.logLevel).toBe("debug");
  });

  test("a hostname may carry a dev port", () => {
    expect(loadConfig({ ...required, TACK_HOSTNAME: "localhost:6555" }).config.hostname).toBe(
      "localhost:6555",
    );
  });

  test("the --addr flag wins over TACK_LISTEN_ADDR", () => {
    const { config } = loadConfig({ ...required, TACK_LISTEN_ADDR: ":1" }, { addr: "127.0.0.1:2" });
    expect(config.listen).toEqual({ hostname: "127.0.0.1", port: 2 });
  });

  test("an empty variable counts as unset", () => {
    expect(loadConfig({ ...required, TACK_DB_PATH: "" }).config.dbPath).toBe("tack.db");
    expect(errorOf({ ...required, TACK_OWNER_DID: "" })).toStartWith("TACK_OWNER_DID is required");
  });

  test("each bad or missing variable is named with what is expected", () => {
    expect(errorOf({ TACK_OWNER_DID: "did:plc:abc" })).toStartWith("TACK_HOSTNAME is required");
    expect(errorOf({ TACK_HOSTNAME: "h" })).toStartWith("TACK_OWNER_DID is required");
    const cases: [string, string][] = [
      ["TACK_OWNER_DID", "alice.bsky.social"],
      ["TACK_HOSTNAME", "https://spindle.example.com"],
      ["TACK_LISTEN_ADDR", "8080"],
      ["TACK_LISTEN_ADDR", ":99999"],
      ["TACK_JETSTREAM_URL", "http://jetstream"],
      ["TACK_DEV", "maybe"],
      ["TACK_LOG_LEVEL", "verbose"],
    ];
    for (const [variable, value] of cases) {
      const message = errorOf({ ...required, [variable]: value });
      expect(message).toStartWith(`${variable}: invalid value`);
      expect(message).toContain(JSON.stringify(value));
    }
  });

  test("unknown TACK_ variables are reported, not fatal", () => {
    const { unknownVariables } = loadConfig({ ...required, TACK_HOSTNMAE: "x", HOME: "/root" });
    expect(unknownVariables).toEqual(["TACK_HOSTNMAE"]);
  });
});

describe("parseListenAddress", () => {
  test("accepts the Go forms", () => {
    expect(parseListenAddress(":8080")).toEqual({ hostname: "0.0.0.0", port: 8080 });
    expect(parseListenAddress("127.0.0.1:8080")).toEqual({ hostname: "127.0.0.1", port: 8080 });
    expect(parseListenAddress("[::1]:8080")).toEqual({ hostname: "::1", port: 8080 });
    expect(parseListenAddress("localhost:0")).toEqual({ hostname: "localhost", port: 0 });
  });

  test("rejects anything else", () => {
    for (const bad of ["8080", ":", "::1:8080", "host:65536", "[::1]", "a b:1"]) {
      expect(parseListenAddress(bad)).toBeUndefined();
    }
  });
});

describe("parseArgs", () => {
  test("serve, with -addr in every Go and GNU spelling", () => {
    expect(parseArgs([])).toEqual({ kind: "serve", addr: undefined });
    for (const argv of [["-addr", ":1"], ["--addr", ":1"], ["-addr=:1"], ["--addr=:1"]]) {
      expect(parseArgs(argv)).toEqual({ kind: "serve", addr: ":1" });
    }
  });

  test("help, version and mistakes", () => {
    expect(parseArgs(["--help"]).kind).toBe("help");
    expect(parseArgs(["-h"]).kind).toBe("help");
    expect(parseArgs(["version"]).kind).toBe("version");
    expect(parseArgs(["--version"]).kind).toBe("version");
    expect(parseArgs(["-addr"]).kind).toBe("usage-error");
    expect(parseArgs(["serve", "now"]).kind).toBe("usage-error");
  });
});

describe("provider configuration", () => {
  test("Buildkite is enabled by its token and then needs org and webhook secret", () => {
    expect(loadConfig(required).config.providers.buildkite).toBeUndefined();
    const { config } = loadConfig({
      ...required,
      TACK_BUILDKITE_TOKEN: "bkua_token",
      TACK_BUILDKITE_ORG: "my-org",
      TACK_BUILDKITE_WEBHOOK_SECRET: "whsec",
      TACK_BUILDKITE_API_URL: "http://127.0.0.1:9999/",
    });
    expect(config.providers.buildkite).toEqual({
      token: "bkua_token",
      org: "my-org",
      webhookSecret: "whsec",
      webhookMode: "token",
      apiUrl: "http://127.0.0.1:9999",
    });
    expect(errorOf({ ...required, TACK_BUILDKITE_TOKEN: "t" })).toBe(
      "TACK_BUILDKITE_ORG is required when TACK_BUILDKITE_TOKEN is set",
    );
    expect(errorOf({ ...required, TACK_BUILDKITE_TOKEN: "t", TACK_BUILDKITE_ORG: "o" })).toBe(
      "TACK_BUILDKITE_WEBHOOK_SECRET is required when TACK_BUILDKITE_TOKEN is set",
    );
    expect(errorOf({ ...required, TACK_BUILDKITE_WEBHOOK_MODE: "hmac" })).toStartWith(
      "TACK_BUILDKITE_WEBHOOK_MODE: invalid value",
    );
  });

  test("GitHub is enabled by its token and then needs the webhook secret", () => {
    const { config } = loadConfig({
      ...required,
      TACK_GITHUB_TOKEN: "ghp_x",
      TACK_GITHUB_WEBHOOK_SECRET: "s",
    });
    expect(config.providers.github).toEqual({
      token: "ghp_x",
      webhookSecret: "s",
      apiUrl: "https://api.github.com",
    });
    expect(errorOf({ ...required, TACK_GITHUB_TOKEN: "ghp_x" })).toBe(
      "TACK_GITHUB_WEBHOOK_SECRET is required when TACK_GITHUB_TOKEN is set",
    );
  });

  test("secrets are never echoed in errors", () => {
    const message = errorOf({
      ...required,
      TACK_BUILDKITE_TOKEN: "",
      TACK_GITHUB_TOKEN: "ghp_secret",
    });
    expect(message).not.toContain("ghp_secret");
  });

  test("a value that looks like a token is not echoed, even in a variable that is no secret (#13)", () => {
    for (const value of [
      "ghp_0123456789abcdefghij0123456789abcdef",
      "bkua_4f1c9a0b7e2d43a8a1f0c9e8d7b6a5f4e3d2c1b0",
      "Z2l0aHViX3BhdF8xMUFCQ0RFRkcwMTIzNDU2Nzg5",
    ]) {
      const message = errorOf({
        ...required,
        TACK_BUILDKITE_ORG: value,
        TACK_BUILDKITE_TOKEN: "t",
      });
      expect(message).toStartWith("TACK_BUILDKITE_ORG: invalid value: expected");
      expect(message).not.toContain(value);
    }
    // Ordinary mistakes are still shown, so the operator sees what was read.
    expect(
      errorOf({ ...required, TACK_BUILDKITE_ORG: "My Org", TACK_BUILDKITE_TOKEN: "t" }),
    ).toContain('"My Org"');
  });

  test("event retention takes a duration, or 0 to keep everything", () => {
    expect(loadConfig({ ...required, TACK_EVENTS_RETENTION: "72h" }).config.eventsRetentionMs).toBe(
      72 * 3_600_000,
    );
    expect(loadConfig({ ...required, TACK_EVENTS_RETENTION: "0" }).config.eventsRetentionMs).toBe(
      0,
    );
    expect(errorOf({ ...required, TACK_EVENTS_RETENTION: "a month" })).toStartWith(
      "TACK_EVENTS_RETENTION: invalid value",
    );
  });

  test("the /events buffer cap takes a size, 64 MiB by default", () => {
    expect(loadConfig(required).config.eventsBufferCapBytes).toBe(64 << 20);
    const cap = (value: string) =>
      loadConfig({ ...required, TACK_EVENTS_BUFFER_CAP: value }).config.eventsBufferCapBytes;
    expect(cap("512KiB")).toBe(512 << 10);
    expect(cap("2GiB")).toBe(2 * 1024 ** 3);
    for (const bad of ["0MiB", "64", "64MB", "-1MiB", "lots"]) {
      expect(errorOf({ ...required, TACK_EVENTS_BUFFER_CAP: bad })).toStartWith(
        "TACK_EVENTS_BUFFER_CAP: invalid value",
      );
    }
  });
});
