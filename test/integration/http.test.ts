import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { connect } from "node:net";
import { BANNER } from "../../src/http/root.ts";
import { startTestTack, type TestTack } from "../helpers/tack.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

let service: TestTack;
beforeAll(async () => {
  service = await startTestTack();
});
afterAll(() => service[Symbol.asyncDispose]());

test("GET / serves the plain-text banner", async () => {
  const response = await fetch(`${service.http}/`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("text/plain; charset=utf-8");
  const body = await response.text();
  expect(body).toBe(BANNER);
  expect(body).toContain("This is a tack server");
});

test("unknown paths are 404, including ones below /", async () => {
  for (const path of ["/nope", "/index.html", "/events/extra", "/xrpcs/sh.tangled.owner"]) {
    const response = await fetch(`${service.http}${path}`);
    expect(response.status).toBe(404);
    expect(await response.text()).toBe("404 page not found\n");
  }
  // fetch() folds "//" into "/", so send that one by hand.
  expect(await rawStatusLine("//")).toBe("HTTP/1.1 404 Not Found");
  expect(await rawStatusLine("/")).toBe("HTTP/1.1 200 OK");
});

test("an unknown XRPC method is 501 MethodNotImplemented, a wrong HTTP method 400, both as XRPC JSON", async () => {
  for (const path of ["/xrpc/sh.tangled.nope", "/xrpc/com.example.other", "/xrpc/"]) {
    const response = await fetch(`${service.http}${path}`);
    expect(response.status).toBe(501);
    expect(response.headers.get("content-type")).toBe("application/json");
    const body = (await response.json()) as { error: string; message: string };
    expect(body.error).toBe("MethodNotImplemented");
    expect(body.message).toContain(path.slice("/xrpc/".length));
  }
  const wrongMethod = await fetch(
    `${service.http}/xrpc/sh.tangled.ci.queryPipelines?repo=did:plc:x`,
    {
      method: "POST",
    },
  );
  expect(wrongMethod.status).toBe(400);
  expect(((await wrongMethod.json()) as { error: string }).error).toBe("InvalidRequest");
});

async function rawStatusLine(path: string): Promise<string> {
  const socket = connect({ host: "127.0.0.1", port: Number(new URL(service.http).port) });
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  let data = "";
  for await (const chunk of socket) data += String(chunk);
  return data.split("\r\n")[0] ?? "";
}

test("GET /xrpc/sh.tangled.owner answers 200 with the owner DID as JSON", async () => {
  const response = await fetch(`${service.http}/xrpc/sh.tangled.owner`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("application/json");
  expect(await response.text()).toBe(`{"owner":"${service.config.ownerDid}"}\n`);
});

test("a request body over 1 MiB is refused with 413", async () => {
  const response = await fetch(`${service.http}/xrpc/sh.tangled.owner`, {
    method: "POST",
    body: new Uint8Array((1 << 20) + 1),
  });
  expect(response.status).toBe(413);
});
