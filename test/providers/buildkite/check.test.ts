/** `tack check` for Buildkite: token, scopes and organization, never the token itself. */
import { expect, setDefaultTimeout, test } from "bun:test";
import { checkRows } from "../check-rows.ts";
import { startHarness, TOKEN } from "./harness.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

function check(h: Awaited<ReturnType<typeof startHarness>>) {
  return checkRows("buildkite", h.service.config.providers.buildkite);
}

test("a token with every scope passes", async () => {
  await using h = await startHarness();
  expect(await check(h)).toEqual([
    { name: "buildkite token", ok: true, detail: "accepted" },
    {
      name: "buildkite token scopes",
      ok: true,
      detail: "read_builds, write_builds, read_build_logs",
    },
    { name: "buildkite organization acme", ok: true, detail: "visible to the token" },
  ]);
  expect(h.fake.callsTo("GET", /^\/v2\/access-token$/)).toHaveLength(1);
});

test("missing scopes are named, with where to fix them", async () => {
  await using h = await startHarness();
  h.fake.scopes = ["read_builds"];
  const results = await check(h);
  expect(results[1]).toEqual({
    name: "buildkite token scopes",
    ok: false,
    detail:
      "missing write_builds, read_build_logs: edit the token at https://buildkite.com/user/api-access-tokens (it has read_builds)",
  });
  expect(results[2]?.detail).toBe("not verified: the token lacks read_organizations (optional)");
  expect(JSON.stringify(results)).not.toContain(TOKEN);
});

test("a rejected token says so without repeating it", async () => {
  await using h = await startHarness();
  h.fake.answerNext("GET", /^\/v2\/access-token$/, {
    status: 401,
    body: { message: "Authentication required. Please supply a valid API Access Token." },
  });
  const results = await check(h);
  expect(results).toEqual([
    {
      name: "buildkite token",
      ok: false,
      detail:
        "rejected by Buildkite (HTTP 401: Authentication required. Please supply a valid API Access Token.): check TACK_BUILDKITE_TOKEN",
    },
  ]);
  expect(JSON.stringify(results)).not.toContain(TOKEN);
});
