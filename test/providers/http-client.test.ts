/**
 * The one HTTP client every provider uses, against small local APIs on 127.0.0.1 and a fake
 * clock (every backoff and rate-limit wait is recorded, none is slept in real time): what is
 * retried and what never is, how long it waits, how it fails, and that a CI's answer reaches an
 * error only bounded and redacted.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { HttpClient, type HttpTuning } from "../../src/providers/http-client.ts";
import { Redactor } from "../../src/providers/redact.ts";
import { cleanupAfterEach } from "../helpers/cleanup.ts";
import { fakeClock } from "../helpers/memory.ts";
import { silentApi } from "../helpers/silent-api.ts";
import { apiFailure } from "./api-failure.ts";

setDefaultTimeout(10_000);
const defer = cleanupAfterEach();

const TOKEN = "ci_tok_4f1c9a0b7e2d43a8a1f0c9e8d7b6a5f4";
const TUNING: HttpTuning = {
  attempts: 4,
  backoffMs: 1_000,
  maxBackoffMs: 30_000,
  maxRateLimitWaitMs: 60_000,
  timeoutMs: 2_000,
};

/** A local API answering with `handler`; `requests` lists what reached it. */
function api(handler: (request: Request, n: number) => Response | Promise<Response>) {
  const requests: { method: string; path: string; headers: Headers }[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request) => {
      const url = new URL(request.url);
      requests.push({ method: request.method, path: url.pathname, headers: request.headers });
      return handler(request, requests.length);
    },
  });
  defer(() => server.stop(true));
  return { url: `http://127.0.0.1:${server.port}`, requests };
}

function client(baseUrl: string, tuning: Partial<HttpTuning> = {}) {
  const time = fakeClock(1_800_000_000_000);
  const http = new HttpClient(
    {
      name: "Example CI",
      baseUrl,
      headers: { authorization: `Bearer ${TOKEN}` },
      hints: { 401: "check TACK_EXAMPLE_TOKEN" },
      rateLimit: {
        budget(headers, now) {
          const remaining = headers.get("x-remaining");
          if (remaining === null) return undefined;
          return {
            remaining: Number(remaining),
            resetAt: now + Number(headers.get("x-reset") ?? 0) * 1000,
          };
        },
        waitFor(response) {
          if (response.status !== 429) return undefined;
          return Number(response.headers.get("retry-after") ?? "1") * 1000;
        },
      },
    },
    { fetch, clock: time.clock, redactor: new Redactor([TOKEN]) },
    { ...TUNING, ...tuning },
  );
  return { http, ...time };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });

test("an idempotent request is retried after a 5xx with jittered, doubling backoff", async () => {
  const server = api((_request, n) =>
    n < 3 ? json(502, { message: "bad gateway" }) : json(200, {}),
  );
  const { http, sleeps } = client(server.url);
  const response = await http.request({ method: "GET", path: "/things" });
  expect(response.status).toBe(200);
  expect(server.requests).toHaveLength(3);
  expect(sleeps).toHaveLength(2);
  // Equal jitter: each wait is between half and all of 1 s, then 2 s.
  expect(sleeps[0]).toBeGreaterThanOrEqual(500);
  expect(sleeps[0]).toBeLessThanOrEqual(1_000);
  expect(sleeps[1]).toBeGreaterThanOrEqual(1_000);
  expect(sleeps[1]).toBeLessThanOrEqual(2_000);
});

test("a 5xx to a create is never sent again: it may have created something", async () => {
  const server = api(() => json(502, { message: "bad gateway" }));
  const { http } = client(server.url);
  const error = await apiFailure(http.request({ method: "POST", path: "/builds", body: { a: 1 } }));
  expect(server.requests).toHaveLength(1);
  expect(error.kind).toBe("failed");
  expect(error.ambiguous).toBe(true);
  expect(error.status).toBe(502);
  expect(error.message).toBe('Example CI API failed with HTTP 502 (POST /builds): "bad gateway"');
});

test("a create that timed out is not sent again either; a GET is, within its attempts", async () => {
  const silent = silentApi();
  defer(() => silent.stop());
  const { http } = client(silent.url, { timeoutMs: 50, attempts: 2 });
  const post = await apiFailure(http.request({ method: "POST", path: "/builds", body: {} }));
  expect(post.kind).toBe("timeout");
  expect(post.ambiguous).toBe(true);
  expect(silent.requests()).toBe(1);
  const get = await apiFailure(http.request({ method: "GET", path: "/builds/1" }));
  expect(get.kind).toBe("timeout");
  expect(get.ambiguous).toBe(false);
  expect(silent.requests()).toBe(3);
});

test("a refused connection never reached the CI, so even a create is tried again", async () => {
  const { http, sleeps } = client("http://127.0.0.1:1");
  const error = await apiFailure(http.request({ method: "POST", path: "/builds", body: {} }));
  expect(error.kind).toBe("unreachable");
  expect(error.ambiguous).toBe(false);
  expect(sleeps).toHaveLength(TUNING.attempts - 1);
  expect(error.message).not.toContain(TOKEN);
});

test("a rate limit is waited out on the clock, even for a create (nothing was created)", async () => {
  const server = api((_request, n) =>
    n === 1 ? json(429, { message: "slow down" }, { "retry-after": "7" }) : json(201, { id: 1 }),
  );
  const { http, sleeps } = client(server.url);
  expect((await http.request({ method: "POST", path: "/builds", body: {} })).status).toBe(201);
  expect(sleeps).toEqual([7_000]);
  expect(server.requests).toHaveLength(2);
});

test("a rate-limit wait longer than allowed is not slept: calls fail fast until it is over", async () => {
  const server = api(() =>
    json(429, { message: "come back in an hour" }, { "retry-after": "3600" }),
  );
  const { http, sleeps, advance } = client(server.url);
  const first = await apiFailure(http.request({ method: "GET", path: "/a" }));
  expect(first.kind).toBe("rate-limited");
  expect(first.details.retryAt).toBe(1_800_000_000_000 + 3_600_000);
  const second = await apiFailure(http.request({ method: "GET", path: "/b" }));
  expect(second.kind).toBe("rate-limited");
  expect(server.requests).toHaveLength(1);
  expect(sleeps).toEqual([]);
  expect(http.lowOnBudget(1)).toBe(true);
  advance(3_600_000);
  expect(http.lowOnBudget(1)).toBe(false);
});

test("the announced budget says when optional work should hold back", async () => {
  const server = api(() => json(200, {}, { "x-remaining": "4", "x-reset": "30" }));
  const { http, advance } = client(server.url);
  expect(http.lowOnBudget(10)).toBe(false);
  await http.request({ method: "GET", path: "/a" });
  expect(http.lowOnBudget(10)).toBe(true);
  expect(http.lowOnBudget(3)).toBe(false);
  advance(30_000);
  expect(http.lowOnBudget(10)).toBe(false);
});

test("a spent budget makes the next request wait for the reset", async () => {
  const server = api(() => json(200, {}, { "x-remaining": "0", "x-reset": "12" }));
  const { http, sleeps } = client(server.url);
  await http.request({ method: "GET", path: "/a" });
  await http.request({ method: "GET", path: "/b" });
  expect(sleeps).toEqual([12_000]);
});

test("a refusal is tack's sentence with a bounded, single-line, redacted excerpt (#13)", async () => {
  const echoed = `Invalid\u001b[31m request\r\nAuthorization: Bearer ${TOKEN}\u0000 ${"z".repeat(3_000)}`;
  const server = api(() =>
    json(422, { message: echoed, errors: [{ field: "branch", message: "can't be blank" }] }),
  );
  const { http } = client(server.url);
  const error = await apiFailure(
    http.request({ method: "POST", path: "/builds?x=secret", body: {} }),
  );
  expect(error.kind).toBe("refused");
  expect(error.ambiguous).toBe(false);
  expect(error.message).toStartWith(
    'Example CI API refused it (HTTP 422) (POST /builds): "Invalid request ',
  );
  expect(error.message).not.toContain(TOKEN);
  expect(error.message).not.toContain("x=secret");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting none got through
  expect(error.message).not.toMatch(/[\u0000-\u001f]/);
  expect(error.details.excerpt?.length).toBeLessThanOrEqual(200);
  expect(server.requests).toHaveLength(1);
});

test("a refusal the operator can fix says what to fix", async () => {
  const server = api(() => json(401, { message: "Bad credentials" }));
  const { http } = client(server.url);
  const error = await apiFailure(http.request({ method: "GET", path: "/me" }));
  expect(error.message).toBe(
    'Example CI API refused it (HTTP 401: check TACK_EXAMPLE_TOKEN) (GET /me): "Bad credentials"',
  );
});

test("an answer that is not the documented shape is an `unexpected` error without the body", async () => {
  const server = api(() => json(200, { id: "not-a-number", secret: TOKEN }));
  const { http } = client(server.url);
  const { Type } = await import("@sinclair/typebox");
  const error = await apiFailure(
    http.json({ method: "GET", path: "/thing" }, Type.Object({ id: Type.Integer() })),
  );
  expect(error.kind).toBe("unexpected");
  expect(error.message).toContain("/id");
  expect(error.message).not.toContain(TOKEN);
});

test("redirects keep the token on the API's origin and drop it elsewhere", async () => {
  const storage = api(() => new Response("log text"));
  const server = api((request) => {
    const path = new URL(request.url).pathname;
    if (path === "/moved")
      return new Response(null, { status: 301, headers: { location: "/here" } });
    if (path === "/here")
      return new Response(null, { status: 302, headers: { location: `${storage.url}/blob` } });
    return new Response("?", { status: 404 });
  });
  const { http } = client(server.url);
  const response = await http.request({ method: "GET", path: "/moved" });
  expect(await response.text()).toBe("log text");
  expect(server.requests.map((r) => r.headers.get("authorization"))).toEqual([
    `Bearer ${TOKEN}`,
    `Bearer ${TOKEN}`,
  ]);
  expect(storage.requests[0]?.headers.get("authorization")).toBeNull();
});

test("statuses the caller expects are answers, not failures", async () => {
  const server = api(() => json(404, { message: "no log yet" }));
  const { http } = client(server.url);
  expect((await http.request({ method: "GET", path: "/log", ok: [404] })).status).toBe(404);
  expect(server.requests).toHaveLength(1);
});
