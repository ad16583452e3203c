/**
 * Which hosts tack may call when a stranger names them: a fork's knot (from the fork's DID
 * document, which anyone can write; `describeWorkflowDefinition` needs no auth) and a did:web
 * host (any caller's token or `sourceRepo` may name one). Without this check a caller could make
 * tack send requests to its own loopback, a cloud metadata service or the operator's private
 * network. Knots learned from the spindle's own members, and the configured PLC directory, are
 * not checked (the operator and members chose them).
 *
 * A host must be a name or address that resolves only to public unicast addresses. The check
 * runs before the request, and fetch resolves the name again on its own: a name whose DNS
 * answer changes between the two (rebinding, a TTL-0 name) is not caught here. Outside
 * `TACK_DEV` those requests are HTTPS, so a rebound name reaches at most a TLS handshake with
 * a host whose certificate is not for it, and no request is sent. `TACK_DEV` allows every
 * host, for local stand-ins.
 */
import type { BlockList } from "node:net";
import { nodeNet } from "../lazy-node.ts";
import { withTimeout } from "../timeout.ts";

/** Looks a name up, every address (node:dns's `lookup(name, { all: true })`). */
export type HostLookup = (name: string) => Promise<{ address: string; family: number }[]>;

const LOOKUP_TIMEOUT_MS = 5_000;

let built: BlockList | undefined;
/**
 * Address ranges that are not the public internet (RFC 6890 special-purpose and friends), built
 * on first use: node:net costs start-up time most runs never need back.
 */
function privateRanges(): BlockList {
  if (built) return built;
  const ranges = new (nodeNet().BlockList)();
  for (const [prefix, bits] of [
    ["0.0.0.0", 8],
    ["10.0.0.0", 8],
    ["100.64.0.0", 10],
    ["127.0.0.0", 8],
    ["169.254.0.0", 16],
    ["172.16.0.0", 12],
    ["192.0.0.0", 24],
    ["192.0.2.0", 24],
    ["192.168.0.0", 16],
    ["198.18.0.0", 15],
    ["198.51.100.0", 24],
    ["203.0.113.0", 24],
    ["224.0.0.0", 4],
    ["240.0.0.0", 4],
  ] as const) {
    ranges.addSubnet(prefix, bits, "ipv4");
    // The same range behind the NAT64 prefix (64:ff9b::/96), which a NAT64 gateway translates.
    ranges.addSubnet(`64:ff9b::${prefix}`, 96 + bits, "ipv6");
  }
  for (const [prefix, bits] of [
    // IPv4-compatible and IPv4-translated forms carry an IPv4 address; nothing public needs them.
    ["::", 96],
    ["::ffff:0:0:0", 96],
    ["::1", 128],
    ["64:ff9b:1::", 48],
    ["100::", 64],
    // IETF protocol assignments: Teredo, benchmarking, ORCHID.
    ["2001::", 23],
    ["2001:db8::", 32],
    // 6to4: an IPv4 address inside, relayed by whoever answers.
    ["2002::", 16],
    ["fc00::", 7],
    ["fec0::", 10],
    ["fe80::", 10],
    ["ff00::", 8],
  ] as const) {
    ranges.addSubnet(prefix, bits, "ipv6");
  }
  built = ranges;
  return ranges;
}

export class PublicHosts {
  constructor(
    private readonly deps: { dev: boolean; lookup: HostLookup; lookupTimeoutMs?: number },
  ) {}

  /**
   * Why tack must not call `host` (`name` or `name:port`, IPv6 in brackets), or undefined when
   * it may. A name that cannot be resolved is refused too: nothing could be read from it.
   */
  async refusal(host: string): Promise<string | undefined> {
    if (this.deps.dev) return undefined;
    const name = hostname(host);
    if (name === undefined) return `${host} is not a host name`;
    if (nodeNet().isIP(name)) return isPublic(name) ? undefined : `${name} is not a public address`;
    let addresses: { address: string }[];
    try {
      // Anonymous callers can name hosts: a slow resolver must not hold their requests open.
      addresses = await withTimeout(
        this.deps.lookup(name),
        this.deps.lookupTimeoutMs ?? LOOKUP_TIMEOUT_MS,
      );
    } catch {
      return `${name} does not resolve`;
    }
    if (addresses.length === 0) return `${name} does not resolve`;
    const inside = addresses.find(({ address }) => !isPublic(address));
    return inside ? `${name} resolves to ${inside.address}, not a public address` : undefined;
  }
}

function hostname(host: string): string | undefined {
  try {
    const name = new URL(`http://${host}`).hostname;
    return name.startsWith("[") ? name.slice(1, -1) : name;
  } catch {
    return undefined;
  }
}

function isPublic(address: string): boolean {
  const family = nodeNet().isIP(address);
  if (family === 4) return !privateRanges().check(address, "ipv4");
  if (family === 6) return !privateRanges().check(address, "ipv6");
  return false;
}
