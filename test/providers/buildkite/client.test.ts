/**
 * The Buildkite client against the stand-in: the log tail survives a log that grows between its
 * HEAD and its GET, Buildkite's RateLimit-* headers are read, and refusals carry Buildkite's
 * message. (Retries, timeouts and backoff are the kit's: test/providers/http-client.test.ts.)
 */
import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import { createBuildkiteClient } from "../../../src/providers/buildkite/client.ts";
import { ApiError } from "../../../src/providers/http-client.ts";
import { Redactor } from "../../../src/providers/redact.ts";
import { FakeBuildkite } from "../../helpers/fake-buildkite.ts";
import { fakeClock } from "../../helpers/memory.ts";
import { TOKEN } from "./harness.ts";

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
  const time = fakeClock(Date.now());
  const client = createBuildkiteClient(
    { token: TOKEN, apiUrl: fake.url },
    {
      fetch: Object.assign(fetchThrough, { preconnect: fetch.preconnect }),
      clock: time.clock,
      redactor: new Redactor([TOKEN]),
    },
  );
  return { fake, client, ...time };
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

test("a 429 waits for the RateLimit-Reset Buildkite announced", async () => {
  const { fake, client, sleeps } = setup();
  fake.answerNext("GET", /^\/v2\/access-token$/, {
    status: 429,
    body: {
      message: "You have exceeded your rate limit",
      scope: "rest",
      limit: 200,
      current: 201,
      reset: 17,
    },
    headers: { "ratelimit-remaining": "0", "ratelimit-reset": "17" },
  });
  expect((await client.accessToken()).scopes).toContain("read_builds");
  expect(sleeps).toEqual([17_000]);
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
  expect(error).toBeInstanceOf(ApiError);
  expect(error).toMatchObject({
    status: 422,
    message:
      "Buildkite API refused it (HTTP 422) (PUT /v2/organizations/acme/pipelines/app-ci/builds/1/cancel): \"Build can't be canceled because it's passed\"",
  });

  const stranger = createBuildkiteClient(
    { token: "not-the-token", apiUrl: fake.url },
    { fetch, clock: fakeClock(Date.now()).clock, redactor: new Redactor([]) },
  );
  const denied = await stranger.accessToken().catch((e: unknown) => e);
  expect(denied).toBeInstanceOf(ApiError);
  expect(denied).toMatchObject({ status: 401, kind: "refused" });
  expect(String(denied)).toContain(
    "Authentication required. Please supply a valid API Access Token.",
  );
});
