/** `tack check` end to end against a local Buildkite API stand-in (issue 6). */
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { runCheck } from "../../src/commands/check.ts";
import { FakeAtproto } from "../helpers/fake-atproto.ts";
import { FakeBuildkite } from "../helpers/fake-buildkite.ts";
import { FakeJetstream } from "../helpers/fake-jetstream.ts";
import { tempDir } from "../helpers/tack.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

// `tack check` connects to Jetstream and the PLC directory: local stand-ins, never the public ones.
const jetstream = FakeJetstream.start();
const plc = FakeAtproto.start();
plc.addIdentity("did:plc:owner");
afterAll(() => {
  jetstream.stop();
  plc.stop();
});

function env(apiUrl: string, token: string) {
  return {
    TACK_JETSTREAM_URL: jetstream.url,
    TACK_PLC_URL: plc.url,
    TACK_HOSTNAME: "spindle.example.com",
    TACK_OWNER_DID: "did:plc:owner",
    TACK_DB_PATH: join(tempDir(), "tack.db"),
    TACK_BUILDKITE_TOKEN: token,
    TACK_BUILDKITE_ORG: "acme",
    TACK_BUILDKITE_WEBHOOK_SECRET: "webhook-secret-value",
    TACK_BUILDKITE_API_URL: apiUrl,
  };
}

async function check(environment: Record<string, string>) {
  const lines: string[] = [];
  const code = await runCheck(environment, (line) => lines.push(line));
  return { code, output: lines.join("\n") };
}

test("a good token: every row OK, exit 0", async () => {
  const fake = FakeBuildkite.start();
  try {
    const { code, output } = await check(env(fake.url, fake.token));
    expect(output).toMatch(
      /buildkite token scopes\s+ok\s+read_builds, write_builds, read_build_logs/,
    );
    expect(output).toMatch(/database\s+ok/);
    expect(code).toBe(0);
    expect(output).not.toContain(fake.token);
    expect(output).not.toContain("webhook-secret-value");
  } finally {
    fake.stop();
  }
});

test("a token lacking a scope: a FAIL row naming it, exit 1", async () => {
  const fake = FakeBuildkite.start();
  fake.scopes = ["read_builds", "read_build_logs"];
  try {
    const { code, output } = await check(env(fake.url, fake.token));
    expect(output).toMatch(/buildkite token scopes\s+FAIL\s+missing write_builds/);
    expect(code).toBe(1);
    expect(output).not.toContain(fake.token);
  } finally {
    fake.stop();
  }
});

test("an unreachable API: a FAIL row, exit 1", async () => {
  const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const url = `http://127.0.0.1:${closed.port}`;
  closed.stop(true);
  const { code, output } = await check(env(url, "bkua_unreachable_token"));
  expect(output).toMatch(/buildkite token\s+FAIL\s+Buildkite API could not be reached/);
  expect(code).toBe(1);
  expect(output).not.toContain("bkua_unreachable_token");
});

test("the PLC directory: it must answer and know the owner's DID", async () => {
  const fake = FakeBuildkite.start();
  try {
    const good = await check(env(fake.url, fake.token));
    expect(good.output).toMatch(
      /plc directory\s+ok\s+127\.0\.0\.1:\d+ resolves the owner did:plc:owner/,
    );
    const unknownOwner = await check({
      ...env(fake.url, fake.token),
      TACK_OWNER_DID: "did:plc:nobody",
    });
    expect(unknownOwner.output).toMatch(
      /plc directory\s+FAIL\s+.*knows no did:plc:nobody \(TACK_OWNER_DID\)/,
    );
    expect(unknownOwner.code).toBe(1);
    const webOwner = await check({
      ...env(fake.url, fake.token),
      TACK_OWNER_DID: "did:web:example.com",
    });
    expect(webOwner.output).toMatch(/plc directory\s+ok\s+127\.0\.0\.1:\d+ answers/);
    const unreachable = await check({
      ...env(fake.url, fake.token),
      TACK_PLC_URL: "http://127.0.0.1:9",
    });
    expect(unreachable.output).toMatch(
      /plc directory\s+FAIL\s+cannot reach 127\.0\.0\.1:9 \(TACK_PLC_URL\)/,
    );
    expect(unreachable.code).toBe(1);
  } finally {
    fake.stop();
  }
});
