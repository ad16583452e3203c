/**
 * The public-host rule for knots a stranger names (a fork's DID document): loopback, private,
 * link-local and other special-purpose addresses are refused, as literals in any spelling and
 * behind names; public addresses pass; TACK_DEV lets everything through for local knots.
 */
import { describe, expect, test } from "bun:test";
import { type HostLookup, PublicHosts } from "../../src/net/public-hosts.ts";

const DNS: Record<string, string[]> = {
  "knot.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
  localhost: ["127.0.0.1", "::1"],
  "split.example.com": ["93.184.216.34", "192.168.1.20"],
};
const lookups: string[] = [];
const lookup: HostLookup = async (name) => {
  lookups.push(name);
  const addresses = DNS[name];
  if (!addresses)
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: "ENOTFOUND" });
  return addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
};
const strict = new PublicHosts({ dev: false, lookup });

describe("knot hosts a stranger names", () => {
  test.each([
    ["127.0.0.1:5555", "127.0.0.1 is not a public address"],
    ["10.2.3.4", "10.2.3.4 is not a public address"],
    ["172.20.0.1:8080", "172.20.0.1 is not a public address"],
    ["192.168.0.10", "192.168.0.10 is not a public address"],
    ["169.254.169.254", "169.254.169.254 is not a public address"],
    ["100.100.1.1", "100.100.1.1 is not a public address"],
    ["0.0.0.0", "0.0.0.0 is not a public address"],
    ["[::1]:80", "::1 is not a public address"],
    ["[fd00::1]", "fd00::1 is not a public address"],
    ["[fe80::1]", "fe80::1 is not a public address"],
    ["[::ffff:127.0.0.1]", "::ffff:7f00:1 is not a public address"],
    ["[64:ff9b::a9fe:a9fe]", "64:ff9b::a9fe:a9fe is not a public address"],
    ["[64:ff9b::127.0.0.1]", "64:ff9b::7f00:1 is not a public address"],
    ["[::7f00:1]", "::7f00:1 is not a public address"],
    ["[::ffff:0:7f00:1]", "::ffff:0:7f00:1 is not a public address"],
    ["[2002:a9fe:a9fe::]", "2002:a9fe:a9fe:: is not a public address"],
    ["[2001:0:4136:e378::1]", "2001:0:4136:e378::1 is not a public address"],
    ["[fec0::1]", "fec0::1 is not a public address"],
    ["2130706433", "127.0.0.1 is not a public address"],
    ["0x7f.1:22", "127.0.0.1 is not a public address"],
    ["localhost:6000", "localhost resolves to 127.0.0.1, not a public address"],
    ["split.example.com", "split.example.com resolves to 192.168.1.20, not a public address"],
    ["gone.example.com", "gone.example.com does not resolve"],
    ["bad host/x", "bad host/x is not a host name"],
  ])("%s is refused: %s", async (host, reason) => {
    expect(await strict.refusal(host)).toBe(reason);
  });

  test.each([
    "93.184.216.34",
    "[64:ff9b::5db8:d822]",
    "93.184.216.34:8443",
    "[2606:2800:220:1:248:1893:25c8:1946]:443",
    "knot.example.com",
    "knot.example.com:5555",
  ])("%s may be called", async (host) => {
    expect(await strict.refusal(host)).toBeUndefined();
  });

  test("a resolver that does not answer in time is a refusal, not a hanging request", async () => {
    const stuck = new PublicHosts({
      dev: false,
      lookup: () => new Promise(() => {}),
      lookupTimeoutMs: 20,
    });
    expect(await stuck.refusal("slow.example.com")).toBe("slow.example.com does not resolve");
  });

  test("under TACK_DEV every host may be called, and nothing is looked up", async () => {
    lookups.length = 0;
    const dev = new PublicHosts({ dev: true, lookup });
    expect(await dev.refusal("127.0.0.1:5555")).toBeUndefined();
    expect(await dev.refusal("localhost:6000")).toBeUndefined();
    expect(lookups).toEqual([]);
  });
});
