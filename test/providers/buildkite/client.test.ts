/**
 * The REST client against the stand-in: the log tail survives a log that grows between its
 * HEAD and its GET, rate-limit headers are honoured, and refusals carry Buildkite's message.
 */
import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import {
  BuildkiteApiError,
  BuildkiteClient,
  DEFAULT_CLIENT_TUNING,
} from "../../../src/providers/buildkite/client.ts";
import { FakeBuildkite } from "../../helpers/fake-buildkite.ts";
import { silentApi } from "../../helpers/silent-api.ts";
import { fastClock, TOKEN } from "./harness.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

function setup(onResponse: (request: Request, response: Response) => void = () => {}) {
  const fake = FakeBuildkite.start(TOKEN);
  stops.push(() => fake.stop());
  const fetchThrough = async (input: string | URL | Request, init?: RequestInit) => {
    const request =
      input instanceof Request
        ? input
        : new Request(input instanceof URL ? input.href : input, init);
    const response = await fetch(request);
    onResponse(request, response);
    return response;
  };
  const client = new BuildkiteClient(
    { token: TOKEN, apiUrl: fake.url },
    { fetch: Object.assign(fetchThrough, { preconnect: fetch.preconnect }), clock: fastClock(200) },
    DEFAULT_CLIENT_TUNING,
  );
  return { fake, client };
}

const body = {
  commit: "HEAD",
  branch: "main",
  message: "m",
  env: {},
  meta_data: { "tack:workflow": "ci.yml" },
};

test("a log that grows between HEAD and GET is read without a gap or a repeat", async () => {
  let grow: (() => void) | undefined;
  const { fake, client } = setup((request) => {
    if (request.method === "HEAD" && grow) {
      grow();
      grow = undefined;
    }
  });
  const created = await client.createBuild("acme", "app-ci", body);
  const [job] = fake.scriptJobs(fake.onlyBuild());
  if (!job) throw new Error("no job");
  const at = { org: "acme", pipeline: "app-ci", number: created.number };
  fake.appendLog(job, "one\n");
  const first = await client.jobLog(at, job.id, 0);
  fake.appendLog(job, "two\n");
  grow = () => fake.appendLog(job, "three\n");
  const second = await client.jobLog(at, job.id, first.length);
  const text = new TextDecoder().decode(new Uint8Array([...first, ...second]));
  expect(text).toBe("one\ntwo\nthree\n");
  expect(await client.jobLog(at, job.id, first.length + second.length)).toHaveLength(0);
});

test("an empty log reads as no bytes", async () => {
  const { fake, client } = setup();
  const created = await client.createBuild("acme", "app-ci", body);
  const [job] = fake.scriptJobs(fake.onlyBuild());
  if (!job) throw new Error("no job");
  const at = { org: "acme", pipeline: "app-ci", number: created.number };
  expect(await client.jobLog(at, job.id, 0)).toHaveLength(0);
});

test("a spent rate-limit budget is reported until its reset passes", async () => {
  const { fake, client } = setup();
  expect(client.lowOnBudget(10)).toBe(false);
  fake.rateLimit = { limit: 200, remaining: 4, reset: 30 };
  await client.accessToken();
  expect(client.lowOnBudget(10)).toBe(true);
  expect(client.lowOnBudget(3)).toBe(false);
});

test("a refusal carries Buildkite's message and status; a wrong token is a 401", async () => {
  const { fake, client } = setup();
  fake.answerNext("PUT", /\/cancel$/, {
    status: 422,
    body: { message: "Build can't be canceled because it's passed" },
  });
  const error = await client
    .cancelBuild({ org: "acme", pipeline: "app-ci", number: 1 })
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(BuildkiteApiError);
  expect(error).toMatchObject({
    status: 422,
    message: "Build can't be canceled because it's passed",
  });

  const stranger = new BuildkiteClient(
    { token: "not-the-token", apiUrl: fake.url },
    { fetch, clock: fastClock(200) },
  );
  const denied = await stranger.accessToken().catch((e: unknown) => e);
  expect(denied).toMatchObject({
    status: 401,
    message: "Authentication required. Please supply a valid API Access Token.",
  });
});

test("an unreachable API is retried, then reported as such", async () => {
  const client = new BuildkiteClient(
    { token: TOKEN, apiUrl: "http://127.0.0.1:1" },
    { fetch, clock: fastClock(1_000) },
  );
  const error = await client.accessToken().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(BuildkiteApiError);
  expect(error).toMatchObject({ status: 0 });
  expect(String(error)).toContain("Buildkite API unreachable");
});

test("an API that stops answering is timed out per request, retried, then reported", async () => {
  const silent = silentApi();
  try {
    const client = new BuildkiteClient(
      { token: TOKEN, apiUrl: silent.url },
      { fetch, clock: fastClock(1_000) },
      { maxAttempts: 2, backoffMs: 10, maxRateLimitWaitMs: 1_000, timeoutMs: 100 },
    );
    const error = await client.accessToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BuildkiteApiError);
    expect(silent.requests()).toBe(2);
  } finally {
    silent.stop();
  }
});
