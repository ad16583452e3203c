/** The REST client against the stand-in: bounded retries, rate limits, redirects. */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { GithubApiError, GithubClient } from "../../../src/providers/github/client.ts";
import { GITHUB_TOKEN, RUNNER_REPO } from "../../helpers/fake-github.ts";
import { silentApi } from "../../helpers/silent-api.ts";
import { startFakeGithub } from "./harness.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

function clientFor(url: string, retry = { attempts: 3, baseDelayMs: 5, maxWaitMs: 3_000 }) {
  return new GithubClient(
    { token: GITHUB_TOKEN, apiUrl: url },
    fetch,
    retry,
    Date.now,
    new AbortController().signal,
  );
}

/** The GithubApiError a call failed with (the test fails if it did not fail that way). */
async function failure(call: Promise<unknown>): Promise<GithubApiError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof GithubApiError))
    throw new Error(`expected a GithubApiError, got ${error}`);
  return error;
}

describe("github client", () => {
  test("5xx answers are retried with backoff, up to the attempt limit", async () => {
    const github = startFakeGithub();
    github.failNext("GET", /^\/repos\/acme\/tangled-runner$/, 502, 2);
    expect(await clientFor(github.url).defaultBranch(RUNNER_REPO)).toBe("main");
    expect(github.callsTo("GET", /^\/repos\/acme\/tangled-runner$/)).toHaveLength(3);

    github.failNext("GET", /\/actions\/runs\/\d+$/, 500, 5);
    const error = await failure(clientFor(github.url).getRun(RUNNER_REPO, 1));
    expect(error.status).toBe(500);
    expect(github.callsTo("GET", /\/actions\/runs\/1$/)).toHaveLength(3);
  });

  test("a secondary rate limit's retry-after is honoured", async () => {
    const github = startFakeGithub();
    github.failNext("GET", /^\/rate_limit$/, 429, 1, { "retry-after": "1" });
    const info = await clientFor(github.url).tokenInfo();
    expect(info.remaining).toBe(4999);
    const [limited, retried] = github.callsTo("GET", /^\/rate_limit$/);
    expect((retried?.at ?? 0) - (limited?.at ?? 0)).toBeGreaterThanOrEqual(1_000);
  });

  test("an exhausted budget waits for x-ratelimit-reset when that is soon", async () => {
    const github = startFakeGithub();
    const reset = Math.floor(Date.now() / 1000) + 1;
    github.failNext("GET", /^\/rate_limit$/, 403, 1, {
      "x-ratelimit-remaining": "0",
      "x-ratelimit-reset": String(reset),
    });
    await clientFor(github.url).tokenInfo();
    const calls = github.callsTo("GET", /^\/rate_limit$/);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.at).toBeGreaterThanOrEqual(reset * 1000);
  });

  test("a long wait is not slept through: calls are refused until then", async () => {
    const github = startFakeGithub();
    github.failNext("GET", /^\/rate_limit$/, 429, 1, { "retry-after": "3600" });
    const client = clientFor(github.url);
    const first = await failure(client.tokenInfo());
    expect(first.rateLimitedUntil).toBeGreaterThan(Date.now() + 3_500_000);
    const second = await failure(client.defaultBranch(RUNNER_REPO));
    expect(second.message).toStartWith("github: rate limited until ");
    expect(github.calls).toHaveLength(1);
    expect(client.budget().blockedUntil).toBeGreaterThan(Date.now());
  });

  test("a plain 403 is a permission problem: not retried", async () => {
    const github = startFakeGithub();
    github.failNext("POST", /\/cancel$/, 403, 1);
    const error = await failure(clientFor(github.url).cancel(RUNNER_REPO, 5));
    expect(error.status).toBe(403);
    expect(github.callsTo("POST", /\/cancel$/)).toHaveLength(1);
  });

  test("the job log redirect is followed without the token", async () => {
    const github = startFakeGithub();
    const run = { id: 1 };
    const job = github.addJob(run.id, { name: "build", log: "2026-11-26T20:00:10.0000000Z hi\n" });
    expect(await clientFor(github.url).jobLog(RUNNER_REPO, job.id)).toBe(
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
    expect(await clientFor(github.url).jobLog(RUNNER_REPO, job.id)).toBeUndefined();
  });

  test("network failures are retried, then reported without the token", async () => {
    const client = clientFor("http://127.0.0.1:1");
    const error = await failure(client.defaultBranch(RUNNER_REPO));
    expect(error.status).toBeUndefined();
    expect(error.message).toStartWith(`github: GET /repos/${RUNNER_REPO} failed: `);
    expect(error.message).not.toContain(GITHUB_TOKEN);
  });
});

test("an API that stops answering fails the call after bounded, timed-out attempts", async () => {
  const silent = silentApi();
  try {
    const client = new GithubClient(
      { token: GITHUB_TOKEN, apiUrl: silent.url },
      fetch,
      { attempts: 2, baseDelayMs: 5, maxWaitMs: 1_000, timeoutMs: 100 },
      Date.now,
      new AbortController().signal,
    );
    const error = await failure(client.defaultBranch(RUNNER_REPO));
    expect(error.message).toContain("failed");
    expect(silent.requests()).toBe(2);
  } finally {
    silent.stop();
  }
});
