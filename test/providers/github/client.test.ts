/**
 * The GitHub client against the stand-in: GitHub's own rate-limit signals (retry-after, an
 * exhausted budget until x-ratelimit-reset, a plain 403 that is no limit), log redirects without
 * the token, and logs that do not exist yet. (Retries, timeouts and backoff are the kit's:
 * test/providers/http-client.test.ts.) Waits are recorded on a fake clock, never slept.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { createGithubClient } from "../../../src/providers/github/client.ts";
import { Redactor } from "../../../src/providers/redact.ts";
import { GITHUB_TOKEN, RUNNER_REPO } from "../../helpers/fake-github.ts";
import { fakeClock } from "../../helpers/memory.ts";
import { apiFailure } from "../api-failure.ts";
import { startFakeGithub } from "./harness.ts";

setDefaultTimeout(10_000);

function clientFor(url: string) {
  const time = fakeClock(Date.now());
  const client = createGithubClient(
    { token: GITHUB_TOKEN, apiUrl: url },
    { fetch, clock: time.clock, redactor: new Redactor([GITHUB_TOKEN]) },
    {
      attempts: 3,
      backoffMs: 5,
      maxBackoffMs: 100,
      maxRateLimitWaitMs: 3_000_000,
      timeoutMs: 2_000,
    },
  );
  return { client, ...time };
}

describe("github client", () => {
  test("5xx answers to reads are retried, up to the attempt limit", async () => {
    const github = startFakeGithub();
    github.failNext("GET", /^\/repos\/acme\/tangled-runner$/, 502, 2);
    expect(await clientFor(github.url).client.defaultBranch(RUNNER_REPO)).toBe("main");
    expect(github.callsTo("GET", /^\/repos\/acme\/tangled-runner$/)).toHaveLength(3);

    github.failNext("GET", /\/actions\/runs\/\d+$/, 500, 5);
    const error = await apiFailure(clientFor(github.url).client.getRun(RUNNER_REPO, 1));
    expect(error.status).toBe(500);
    expect(github.callsTo("GET", /\/actions\/runs\/1$/)).toHaveLength(3);
  });

  test("a secondary rate limit's retry-after is honoured", async () => {
    const github = startFakeGithub();
    github.failNext("GET", /^\/rate_limit$/, 429, 1, { "retry-after": "7" });
    const { client, sleeps } = clientFor(github.url);
    expect((await client.tokenInfo()).remaining).toBe(4999);
    expect(sleeps).toEqual([7_000]);
    expect(github.callsTo("GET", /^\/rate_limit$/)).toHaveLength(2);
  });

  test("an exhausted budget waits for x-ratelimit-reset, measured on GitHub's clock", async () => {
    const github = startFakeGithub();
    const reset = Math.floor(Date.now() / 1000) + 40;
    github.failNext("GET", /^\/rate_limit$/, 403, 1, {
      "x-ratelimit-remaining": "0",
      "x-ratelimit-reset": String(reset),
    });
    const { client, sleeps } = clientFor(github.url);
    await client.tokenInfo();
    expect(github.callsTo("GET", /^\/rate_limit$/)).toHaveLength(2);
    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeGreaterThan(38_000);
    expect(sleeps[0]).toBeLessThan(42_000);
  });

  test("a long wait is not slept through: calls are refused until then", async () => {
    const github = startFakeGithub();
    github.failNext("GET", /^\/rate_limit$/, 429, 1, { "retry-after": "360000" });
    const { client, sleeps } = clientFor(github.url);
    const first = await apiFailure(client.tokenInfo());
    expect(first.kind).toBe("rate-limited");
    const second = await apiFailure(client.defaultBranch(RUNNER_REPO));
    expect(second.kind).toBe("rate-limited");
    expect(second.message).toContain("rate limit reached");
    expect(github.calls).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  test("a plain 403 is a permission problem: not retried", async () => {
    const github = startFakeGithub();
    github.failNext("POST", /\/cancel$/, 403, 1);
    const error = await apiFailure(clientFor(github.url).client.cancel(RUNNER_REPO, 5));
    expect(error.status).toBe(403);
    expect(error.kind).toBe("refused");
    expect(github.callsTo("POST", /\/cancel$/)).toHaveLength(1);
  });

  test("the job log redirect is followed without the token", async () => {
    const github = startFakeGithub();
    const job = github.addJob(1, { name: "build", log: "2026-11-26T20:00:10.0000000Z hi\n" });
    expect(await clientFor(github.url).client.jobLog(RUNNER_REPO, job.id)).toBe(
      "2026-11-26T20:00:10.0000000Z hi\n",
    );
    const storage = github.calls.filter((call) => call.host === "storage");
    expect(storage).toHaveLength(1);
    expect(storage[0]?.headers.get("authorization")).toBeNull();
    expect(github.problems).toEqual([]);
  });

  test("a job without a log yet is undefined, not an error", async () => {
    const github = startFakeGithub();
    const job = github.addJob(1, { name: "build" });
    expect(await clientFor(github.url).client.jobLog(RUNNER_REPO, job.id)).toBeUndefined();
  });

  test("network failures are retried, then reported without the token", async () => {
    const { client, sleeps } = clientFor("http://127.0.0.1:1");
    const error = await apiFailure(client.defaultBranch(RUNNER_REPO));
    expect(error.kind).toBe("unreachable");
    expect(sleeps).toHaveLength(2);
    expect(error.message).toStartWith(
      `GitHub API could not be reached (GET /repos/${RUNNER_REPO})`,
    );
    expect(error.message).not.toContain(GITHUB_TOKEN);
  });
});
