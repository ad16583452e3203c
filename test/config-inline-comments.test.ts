/**
 * An EnvironmentFile with inline comments (#15, defect 1): systemd keeps "  # …" in the value,
 * so tack must say so instead of a bare "invalid value".
 */
import { expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../src/config.ts";

function errorOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

const required = { TACK_HOSTNAME: "spindle.example.com", TACK_OWNER_DID: "did:plc:abc123" };

test("a value carrying an inline comment names the variable and says systemd keeps it (#15)", () => {
  expect(errorOf({ ...required, TACK_HOSTNAME: "spindle.example.com   # the public name" })).toBe(
    `TACK_HOSTNAME: invalid value "spindle.example.com   # the public name": it ends in an inline comment, which systemd's EnvironmentFile= does not strip (only lines starting with # are comments); put the comment on a line of its own`,
  );
});

test("the same holds for values the schema would accept, such as a path", () => {
  expect(errorOf({ ...required, TACK_DB_PATH: "/var/lib/tack/tack.db # state" })).toStartWith(
    "TACK_DB_PATH: invalid value",
  );
});

test("a secret with an inline comment is named but never echoed", () => {
  const message = errorOf({
    ...required,
    TACK_GITHUB_TOKEN: "github_pat_supersecret\t# expires in May",
    TACK_GITHUB_WEBHOOK_SECRET: "s",
  });
  expect(message).toStartWith("TACK_GITHUB_TOKEN: invalid value: it ends in an inline comment");
  expect(message).not.toContain("supersecret");
});

test("a '#' that is not preceded by whitespace is an ordinary character", () => {
  const { config } = loadConfig({ ...required, TACK_DB_PATH: "/srv/tack#1/tack.db" });
  expect(config.dbPath).toBe("/srv/tack#1/tack.db");
});
