/**
 * The identity resolver against a did:web host a stranger names: only public hosts are asked,
 * and a document is read up to its size cap, however much the host sends.
 */
import { afterEach, expect, test } from "bun:test";
import { IdentityError, IdentityResolver } from "../../src/atproto/identity.ts";
import { PublicHosts } from "../../src/net/public-hosts.ts";

const servers: ReturnType<typeof Bun.serve>[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.stop(true);
});

/** A did:web host on loopback serving `body` as its document; counts the requests. */
function webHost(body: (did: string) => string) {
  const seen: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request): Response {
      seen.push(new URL(request.url).pathname);
      return new Response(body(`did:web:127.0.0.1%3A${server.port}`), {
        headers: { "content-type": "application/json" },
      });
    },
  });
  servers.push(server);
  return { did: `did:web:127.0.0.1%3A${server.port}`, seen };
}

const document = (did: string) => JSON.stringify({ id: did, service: [] });

async function failure(resolver: IdentityResolver, did: string): Promise<IdentityError> {
  try {
    await resolver.resolve(did);
  } catch (error) {
    if (error instanceof IdentityError) return error;
    throw error;
  }
  throw new Error(`${did} resolved`);
}

test("a did:web host outside the public internet is refused before it is asked", async () => {
  const host = webHost(document);
  const strict = new IdentityResolver({
    plcUrl: "http://127.0.0.1:9",
    dev: true, // plain http to the stand-in; the host rule itself is applied as in production
    hosts: new PublicHosts({ dev: false, lookup: async () => [] }),
  });
  const error = await failure(strict, host.did);
  expect(error.message).toBe(`cannot resolve ${host.did}: 127.0.0.1 is not a public address`);
  expect(error.retryable).toBe(false);
  expect(host.seen).toEqual([]);

  // The same host, allowed (TACK_DEV), answers: the refusal above was the rule, not the host.
  const open = new IdentityResolver({
    plcUrl: "http://127.0.0.1:9",
    dev: true,
    hosts: new PublicHosts({ dev: true, lookup: async () => [] }),
  });
  expect((await open.resolve(host.did)).did).toBe(host.did);
  expect(host.seen).toEqual(["/.well-known/did.json"]);
});

test("a document larger than the cap is refused", async () => {
  const padding = "x".repeat(4 * 1024 * 1024);
  const host = webHost((did) => JSON.stringify({ id: did, padding }));
  const resolver = new IdentityResolver({ plcUrl: "http://127.0.0.1:9", dev: true });
  const error = await failure(resolver, host.did);
  expect(error.message).toBe(`cannot resolve ${host.did}: its document is too large`);
});
